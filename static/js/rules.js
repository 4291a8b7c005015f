// The checklist rules the walk shows live, mirroring shopper/checklists/scoring.py: which items a show_if hides,
// the breach wording ("61 s: the promise is 60 s") and what still stops a submit. Pure functions over plain data:
// `definition` is the checklist JSON, `values` maps item key -> answer value, `answers` item key -> {value, note}.
// What differs between item types comes from the registry's facts (item-types.js).
import { itemType } from "./item-types.js";

export function* items(definition) {
  for (const touchpoint of definition.touchpoints) {
    for (const item of touchpoint.items) yield [touchpoint, item];
  }
}

function matches(condition, value) {
  const wanted = "equals" in condition ? [condition.equals] : condition.in;
  const given = Array.isArray(value) ? value : [value];
  return given.some((part) => part !== null && part !== undefined && wanted.includes(part));
}

/** Keys of the items shown for these answer values: shown when the controlling item is shown and matches. */
export function visibleKeys(definition, values) {
  const visible = new Set();
  for (const [, item] of items(definition)) {
    const condition = item.show_if;
    if (!condition || (visible.has(condition.item) && matches(condition, values[condition.item]))) {
      visible.add(item.key);
    }
  }
  return visible;
}

/** A number as a person writes it (at most 3 decimals), with its unit: format_number in scoring.py. */
export function formatNumber(value, unit = "") {
  let text;
  if (Number.isInteger(value)) text = String(value);
  else {
    text = value.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
    if (text === "-0") text = "0";
  }
  return unit ? `${text} ${unit}` : text;
}

/** "45 s", "1 min", "4 min 10 s", "1 h 2 min": format_seconds in scoring.py. */
export function formatSeconds(seconds) {
  const whole = Math.floor(seconds + 0.5);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) {
    const minutes = Math.floor(whole / 60);
    const rest = whole % 60;
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const totalMinutes = Math.floor((whole + 30) / 60);
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

/** The stopwatch face: 01:15, or 1:02:03 from an hour up (_seconds in templates/checklists/items/timer.html). */
export function clock(seconds) {
  const total = Math.max(0, Math.trunc(seconds || 0));
  const pad = (n) => String(n).padStart(2, "0");
  if (total < 3600) return `${pad(Math.floor(total / 60))}:${pad(total % 60)}`;
  return `${Math.floor(total / 3600)}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}

function numberTarget(low, high, unit) {
  if (low === undefined) return high !== undefined ? `at most ${formatNumber(high, unit)}` : "";
  if (high === undefined) return `at least ${formatNumber(low, unit)}`;
  if (low === high) return `exactly ${formatNumber(high, unit)}`;
  return `${formatNumber(low)} to ${formatNumber(high, unit)}`;
}

/** The breach rules an item type names (its `breach` fact): each type's breach() in shopper/checklists/items/. */
const BREACHES = {
  expect(item, value) {
    return value !== "na" && value !== (item.expect || "yes") ? `answered ${value}` : null;
  },
  "at-least"(item, value) {
    return item.target_min !== undefined && value < item.target_min
      ? `${value} of ${item.scale}: the target is at least ${item.target_min}`
      : null;
  },
  "flagged-options"(item, value) {
    const chosen = Array.isArray(value) ? value : [value];
    const flagged = item.options.filter((o) => o.flag && chosen.includes(o.value)).map((o) => `"${o.label}"`);
    return flagged.length ? `chose ${flagged.join(", ")}` : null;
  },
  range(item, value) {
    const { target_min: low, target_max: high } = item;
    if ((low !== undefined && value < low) || (high !== undefined && value > high)) {
      const unit = item.unit || "";
      return `${formatNumber(value, unit)}: the target is ${numberTarget(low, high, unit)}`;
    }
    return null;
  },
  wait(item, value) {
    const target = item.target_max_s;
    if (target === undefined || value <= target) return null;
    if (value < 120) return `${formatNumber(value)} s: the promise is ${target} s`;
    return `${formatSeconds(value)}: the promise is ${formatSeconds(target)}`;
  },
  "at-most"(item, value) {
    return item.target_max !== undefined && value > item.target_max
      ? `${formatNumber(value, item.unit || "")}: the target is at most ${item.target_max}`
      : null;
  },
};

/** A short reason when the answer breaks the item's own rule, else null: breach() in scoring.py. */
export function breach(item, value) {
  if (value === null || value === undefined) return null;
  const rule = BREACHES[itemType(item.type).breach];
  return rule ? rule(item, value) : null;
}

function answered(item, value, photos) {
  return itemType(item.type).photos_answer ? photos >= 1 : value !== null && value !== undefined;
}

/**
 * Per touchpoint: {visible, answered, left} where left counts what stops a submit (missing_for_submit):
 * a required visible item without an answer, an answered item without the note or photo its evidence requires.
 */
export function progress(definition, answers, photoCounts) {
  const values = Object.fromEntries(Object.entries(answers).map(([key, a]) => [key, a.value]));
  const visible = visibleKeys(definition, values);
  const result = {};
  for (const touchpoint of definition.touchpoints) {
    const line = { visible: 0, answered: 0, left: 0 };
    for (const item of touchpoint.items) {
      if (!visible.has(item.key)) continue;
      line.visible += 1;
      const answer = answers[item.key] || {};
      const value = answer.value ?? null;
      const photos = photoCounts[item.key] || 0;
      if (answered(item, value, photos)) {
        line.answered += 1;
        const require = (item.evidence && item.evidence.require) || "none";
        const skip = (itemType(item.type).no_evidence_for || []).includes(value);
        if (!skip && require === "note" && !(answer.note || "").trim()) line.left += 1;
        else if (!skip && require === "photo" && photos < 1) line.left += 1;
      } else if (item.required) {
        line.left += 1;
      }
    }
    result[touchpoint.key] = line;
  }
  return result;
}
