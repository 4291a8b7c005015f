// What differs between item types, as shopper.checklists.items says (ItemType.facts): base.html embeds it as JSON
// in <meta name="item-types" content='...'> (a page's one JSON <script> is its own data). The walk's scripts read
// these facts instead of naming item types, so the Python rules and the page's cannot drift.

let facts = null;

/** The facts of the item type called `name`: control, value, list_if, typing, widget, hint, breach, ... */
export function itemType(name) {
  if (facts === null) facts = JSON.parse(document.querySelector("meta[name=item-types]")?.content || "{}");
  return facts[name] || {};
}
