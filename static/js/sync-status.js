// The sync indicator at the top of every page. It says plainly whether every change has reached the server, how
// many wait on this phone and since when, and whether the browser promised to keep this site's data. It lists the
// changes set aside (the server refused them, or kept failing on them): for each what it was about and what was
// entered, in words, why it did not go, and "Try again", "Copy my text" and "Dismiss". It offers "Sync now", asks
// before signing out while changes wait, warns before leaving an audit's overview, and lists on the offline page
// the audits kept here.
import { dismiss, guardExit, leave, onStatus, queued, retry, storageKept, tryAgain } from "./autosave.js";
import { itemType } from "./item-types.js";

const AGE_TICK_MS = 30000;

const box = document.getElementById("sync");
if (box) start(box);

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "just now", "12 min ago", "3 h ago", "2 days ago". */
function ago(time, now = Date.now()) {
  const minutes = Math.floor((now - time) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

/* An item of the checklist kept with the audit on this phone; null if unknown. */
function findItem(definition, key) {
  for (const touchpoint of definition?.touchpoints || []) {
    const item = (touchpoint.items || []).find((each) => each.key === key);
    if (item) return item;
  }
  return null;
}

/* What a set-aside change was about, in words: the question, the wrap-up, the photo and where it was taken. */
function about(entry, record) {
  const definition = record?.state?.definition;
  const place = (touchpointKey, itemKey) => {
    const title = (itemKey && findItem(definition, itemKey)?.prompt)
      || definition?.touchpoints?.find((touchpoint) => touchpoint.key === touchpointKey)?.title;
    return title ? `“${title}”` : "";
  };
  if (entry.kind === "answer") {
    const item = findItem(definition, entry.target);
    if (item) return `Answer to “${item.prompt}”`;
  } else if (entry.kind === "visit") {
    const where = place(entry.target, null);
    if (where) return `Wrap-up of ${where}`;
  } else if (entry.kind === "photo") {
    const where = place(entry.fields?.touchpoint_key, entry.fields?.item_key);
    return where ? `Photo for ${where}` : "A photo";
  } else if (entry.kind === "caption" || entry.kind === "delete-photo") {
    const photo = record?.state?.photos?.find((each) => each.id === entry.target);
    const where = photo ? place(photo.touchpoint_key, photo.item_key) : "";
    if (where) return `${entry.kind === "caption" ? "Caption of the photo" : "Deleting the photo"} for ${where}`;
  }
  return entry.label || "A change";
}

/* The text the person typed into a set-aside change (a text answer, a note, a caption), or "". */
function typed(entry, record) {
  const sent = entry.sent || {};
  if (entry.kind === "answer") {
    const item = findItem(record?.state?.definition, entry.target);
    const text = itemType(item?.type).value === "text" && typeof sent.value === "string" ? sent.value : "";
    return [text, sent.note || ""].filter(Boolean).join("\n\n");
  }
  if (entry.kind === "visit") return sent.note || "";
  if (entry.kind === "caption") return sent.caption || "";
  if (entry.kind === "photo") return entry.fields?.caption || "";
  return "";
}

/* What was entered, in a few words, for a change the server refused. */
function entered(entry) {
  const sent = entry.sent || {};
  const parts = [];
  if (entry.kind === "answer") {
    if (sent.value !== null && sent.value !== undefined) {
      parts.push(Array.isArray(sent.value) ? sent.value.join(", ") : String(sent.value));
    }
    if (sent.note) parts.push(`note: “${sent.note}”`);
  } else if (entry.kind === "visit") {
    if (sent.effort) parts.push(`effort ${sent.effort} of 7`);
    if (sent.promise_kept !== null && sent.promise_kept !== undefined) {
      parts.push(sent.promise_kept ? "promise kept" : "promise broken");
    }
    if (sent.note) parts.push(`note: “${sent.note}”`);
  } else if (entry.kind === "caption") {
    parts.push(`“${sent.caption}”`);
  } else if (entry.kind === "photo" && entry.fields?.caption) {
    parts.push(`captioned “${entry.fields.caption}”`);
  }
  return parts.join("; ");
}

function start(box) {
  const signedIn = Boolean(box.dataset.user);
  const text = box.querySelector("[data-sync-text]");
  const detail = box.querySelector("[data-sync-detail]");
  const syncNow = box.querySelector("[data-sync-now]");
  const signIn = box.querySelector("[data-sync-signin]");
  const refusedBox = box.querySelector("[data-sync-refused]");
  const storage = box.querySelector("[data-sync-storage]");
  const leaving = box.querySelector("[data-sync-leave]");
  const backgroundSync = "SyncManager" in window;
  let status = null;

  function line({ state, queued: count, oldest }) {
    const waiting = `${plural(count, "change")} waiting to sync${oldest ? `, oldest ${ago(oldest)}` : ""}`;
    if (state === "offline") return ["Offline: changes are kept on this phone", count ? waiting : ""];
    if (state === "signed-out") {
      return [`Signed out: ${plural(count, "change")} waiting on this phone`,
        "Sign in again to send them. They stay on this phone meanwhile."];
    }
    if (state === "failed") {
      const seconds = status.retryAt ? Math.max(1, Math.round((status.retryAt - Date.now()) / 1000)) : 0;
      const why = status.cause === "error" ? "The server could not save a change yet." : "The server is out of reach "
        + "or busy.";
      return [waiting, `${why}${seconds ? ` Trying again in ${seconds} s.` : ""}`];
    }
    if (state === "saving") return [waiting, ""];
    return [status.setAside.length ? "Everything else is saved" : "All changes saved", ""];
  }

  function render() {
    if (!status) return;
    const { state, queued: count, setAside, others } = status;
    box.hidden = !signedIn && !count && !setAside.length && !others;
    box.dataset.state = state === "saved" && setAside.length ? "refused" : state;
    const [main, more] = line(status);
    const notes = [more];
    if (count && !backgroundSync && state !== "signed-out") {
      notes.push("This browser sends them only while Shopper is open: keep it open with a signal until this says "
        + "“All changes saved”.");
    }
    if (others) notes.push(`${plural(others, "change")} made here by another account wait until it signs in again.`);
    if (text.textContent !== main) text.textContent = main;
    const extra = notes.filter(Boolean).join(" ");
    detail.textContent = extra;
    detail.hidden = !extra;
    syncNow.hidden = !count || state === "offline";
    signIn.hidden = state !== "signed-out";
    renderRefused(setAside);
    renderStorage(count);
  }

  let asideAsked = 0;
  async function renderRefused(entries) {
    const ticket = ++asideAsked;
    if (!entries.length) {
      if (refusedBox.contains(document.activeElement)) text.focus(); // the last one has gone
      refusedBox.hidden = true;
      refusedBox.querySelector("[data-sync-refused-list]").dataset.shown = "";
      return;
    }
    refusedBox.hidden = false;
    const title = refusedBox.querySelector("[data-sync-refused-title]");
    title.tabIndex = -1;
    title.textContent = `${plural(entries.length, "change")} could not be saved`;
    const list = refusedBox.querySelector("[data-sync-refused-list]");
    const shown = entries.map((entry) => String(entry.id)).join();
    if (list.dataset.shown === shown) return; // unchanged: keep what the person is doing there (focus, a confirm)
    const outbox = globalThis.ShopperOutbox;
    const ids = [...new Set(entries.map((entry) => entry.audit).filter((id) => id !== null))];
    const found = await Promise.all(ids.map((id) => outbox.audit(id).catch(() => null)));
    if (ticket !== asideAsked) return;
    const records = new Map(ids.map((id, n) => [id, found[n]]));
    const focused = list.contains(document.activeElement);
    list.dataset.shown = shown;
    list.replaceChildren(...entries.map((entry) => asideItem(entry, records.get(entry.audit))));
    if (focused) (list.querySelector("button") || title).focus(); // the change the person acted on has gone
  }

  function button(label, className = "") {
    const element = document.createElement("button");
    element.type = "button";
    element.className = `button small ${className}`.trim();
    element.textContent = label;
    return element;
  }

  function paragraph(className, content) {
    const element = document.createElement("p");
    element.className = className;
    element.append(...[content].flat());
    return element;
  }

  /* One set-aside change: what it was, why it did not go, and what the person can do with it. */
  function asideItem(entry, record) {
    const item = document.createElement("li");
    item.className = "sync-aside";
    const what = document.createElement("strong");
    what.textContent = about(entry, record);
    const head = paragraph("sync-aside-what", what);
    if (record?.home && !window.location.pathname.startsWith(record.home)) {
      head.append(` (${record.state.checklist?.title || "Audit"} at ${record.state.site})`); // another audit's
    }
    item.append(head, paragraph("sync-aside-why", entry.reason));
    const said = entered(entry);
    if (said) item.append(paragraph("sync-entered", `What you entered: ${said}`));

    const note = paragraph("sync-aside-note", "");
    note.setAttribute("role", "status");
    const actions = document.createElement("div");
    actions.className = "row-actions sync-aside-actions";
    const again = button("Try again", "primary");
    again.addEventListener("click", async () => {
      again.disabled = true;
      note.textContent = "Sending it again…";
      if (!(await tryAgain(entry.id))) note.textContent = "It is no longer here: another tab has dealt with it.";
    });
    actions.append(again);

    const text = typed(entry, record);
    const area = document.createElement("textarea");
    if (text) {
      const copy = button("Copy my text");
      copy.addEventListener("click", () => copyText(text, area, note));
      actions.append(copy);
      area.className = "sync-typed";
      area.readOnly = true;
      area.rows = 3;
      area.hidden = true;
      area.setAttribute("aria-label", "The text you typed");
    }

    const drop = button("Dismiss", "danger");
    const confirmBox = document.createElement("div");
    confirmBox.className = "sync-aside-confirm";
    confirmBox.hidden = true;
    const forget = button("Forget it", "danger");
    const keep = button("Keep it");
    const actionsAgain = document.createElement("div");
    actionsAgain.className = "row-actions";
    actionsAgain.append(forget, keep);
    confirmBox.append(paragraph("", "Forget this change? It has not reached the server, and what you entered will "
      + "be gone from this phone."), actionsAgain);
    drop.addEventListener("click", () => {
      confirmBox.hidden = false;
      keep.focus();
    });
    keep.addEventListener("click", () => {
      confirmBox.hidden = true;
      drop.focus();
    });
    forget.addEventListener("click", () => dismiss(entry.id));
    actions.append(drop);

    item.append(actions);
    if (text) item.append(area);
    item.append(confirmBox, note);
    return item;
  }

  let storageAsked = 0;
  async function renderStorage(count) {
    const ticket = ++storageAsked;
    const kept = await storageKept();
    if (ticket !== storageAsked) return;
    const refused = kept.asked && kept.persisted === false;
    storage.hidden = !refused || !count;
    storage.textContent = refused
      ? "This browser has not promised to keep Shopper's data: if the phone runs short of space it may clear "
        + "changes that are not sent yet. Sync as soon as you can, or add Shopper to your home screen."
      : "";
  }

  text.tabIndex = -1;
  onStatus((next) => {
    status = next;
    render();
  });
  setInterval(render, AGE_TICK_MS); // the age of the oldest change, and the retry countdown, move on
  syncNow.addEventListener("click", () => retry());

  // Signing out while changes wait: say what happens to them, and let the person choose. Signing out forgets the
  // pages kept for offline use (the next person on this phone should not read them); unsent changes stay.
  let confirmed = false;
  for (const form of document.querySelectorAll("form[action$='/logout']")) {
    form.addEventListener("submit", (event) => {
      if (confirmed || !queued()) {
        navigator.serviceWorker?.controller?.postMessage({ type: "forget-all" });
        return;
      }
      event.preventDefault();
      leaving.querySelector("[data-sync-leave-text]").textContent = `${plural(queued(), "change")} on this phone `
        + "have not reached the server yet. If you sign out now they stay here, and are sent once you sign in "
        + "again on this phone.";
      leaving.hidden = false;
      box.hidden = false;
      leaving.querySelector("[data-sync-leave-confirm]").onclick = () => {
        confirmed = true;
        leave();
        form.requestSubmit();
      };
      leaving.querySelector("[data-sync-leave-cancel]").onclick = () => {
        leaving.hidden = true;
      };
      box.scrollIntoView({ block: "nearest" });
    });
  }

  const page = document.querySelector("[data-audit-home]");
  if (page && !page.matches("#walk, #review")) guardExit({ within: page.dataset.auditHome });

  showPending();
  showKept();
}

/* On an audit's overview: how many of its changes wait on this phone. */
async function showPending() {
  const lines = document.querySelectorAll("[data-audit-pending]");
  if (!lines.length) return;
  const outbox = globalThis.ShopperOutbox;
  const render = async () => {
    const [who, entries] = await Promise.all([outbox.user(), outbox.entries()]);
    for (const line of lines) {
      const count = entries.filter((e) => e.audit === Number(line.dataset.auditPending) && e.user === who).length;
      line.textContent = count ? `${plural(count, "change")} to this audit ${count === 1 ? "waits" : "wait"} on `
        + "this phone to be sent." : "";
      line.hidden = !count;
    }
  };
  outbox.listen(() => render());
  render();
}

/* On the offline page: the audits this phone keeps, to open without a signal. */
async function showKept() {
  const list = document.querySelector("[data-kept-audits]");
  if (!list) return;
  const records = (await globalThis.ShopperOutbox.audits()).filter((record) => record.home);
  list.replaceChildren(...records.map((record) => {
    const link = document.createElement("a");
    link.href = record.home;
    link.textContent = `${record.state.checklist?.title || "Audit"} at ${record.state.site}`;
    const item = document.createElement("li");
    item.append(link);
    return item;
  }));
  list.closest("[data-kept]")?.toggleAttribute("hidden", !records.length);
}

/* Put the text on the clipboard; where the browser allows no clipboard (a page without HTTPS), show it selected
   to copy by hand. */
async function copyText(text, area, note) {
  const done = "Copied. Paste it wherever you need it.";
  try {
    await navigator.clipboard.writeText(text);
    note.textContent = done;
    return;
  } catch {
    // no clipboard here, or not allowed: select it instead
  }
  area.value = text;
  area.hidden = false;
  area.focus();
  area.select();
  let copied;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  note.textContent = copied ? done : "Your text is selected below: copy it with your phone's Copy button.";
}
