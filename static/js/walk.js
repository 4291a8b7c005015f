// The guided walk on a phone: makes the server-rendered touchpoint live. Every change goes at once into the outbox
// kept on this phone through the one write seam (autosave.js), and what the page shows comes from there: the last
// server state known on this phone with the changes still waiting applied on top, so a change made offline shows at
// once and after a reload. show_if, target breaches and progress follow the answers as they change; the save status
// always tells the truth. Without this script the page still shows every saved answer.
import {
  fetchAudit,
  guardExit,
  leave,
  localView,
  newKey,
  onOutbox,
  onStatus,
  queued,
  remember,
  retry,
  send,
  stored,
} from "./autosave.js";
import { itemType } from "./item-types.js";
import { breach, items, progress, visibleKeys } from "./rules.js";
import { flushCaptions, setupPhotos } from "./photos.js";

const TYPING_DELAY_MS = 700; // text, numbers, notes: saved once the thumb rests
const COUNTER_DELAY_MS = 400; // rapid taps on -/+ become one save

const root = document.getElementById("walk");
if (root) start(root);

async function start(root) {
  // Only a touchpoint with a timer item needs the stopwatch: the others never download it.
  const { Stopwatch } = root.querySelector("[data-stopwatch]") ? await import("./stopwatch.js") : {};
  const state = JSON.parse(document.getElementById("audit-state").textContent);
  const definition = state.definition;
  const touchpointKey = root.dataset.touchpoint;
  const home = root.dataset.auditHome;
  const itemsByKey = new Map([...items(definition)].map(([, item]) => [item.key, item]));
  const touchpointTitles = new Map(definition.touchpoints.map((tp) => [tp.key, tp.title]));
  const answers = {};
  for (const [key, answer] of Object.entries(state.answers)) answers[key] = plainAnswer(answer);
  const visits = { ...state.visits };
  const photos = state.photos.slice();
  // item key (or "visit:<touchpoint>") -> how many local changes: a late server reply must not undo a newer change
  const versions = new Map();
  const sending = new Map(); // key -> changes made on this page the server has not answered yet
  const timers = new Map(); // pending debounced saves: key -> {timer, run}
  const refused = new Map(); // key -> message of a change the server refused
  let seam = null; // the outbox's status, once known

  const urls = {
    answer: (key) => root.dataset.answerUrl.replace("__item__", encodeURIComponent(key)),
    visit: (key) => root.dataset.visitUrl.replace("__touchpoint__", encodeURIComponent(key)),
    photos: root.dataset.photosUrl,
    photo: (id) => root.dataset.photoUrl.replace("__photo__", id),
    thumb: (id) => root.dataset.thumbUrl.replace("__photo__", id),
  };

  // The status bar -------------------------------------------------------------------------------------------
  const statusBox = root.querySelector("#save-status");
  const statusText = statusBox.querySelector("[data-status-text]");
  const retryButton = root.querySelector("[data-action=retry]");
  const signIn = root.querySelector("[data-signin]");
  const asideButton = root.querySelector("[data-action=show-aside]");
  const MESSAGES = {
    saved: "Saved",
    saving: "Saving…",
    offline: "Offline: changes are kept on this phone",
    failed: "Not saved yet",
    "signed-out": "Signed out: sign in again to save",
    refused: "Not saved: see the message by the question",
  };

  function waiting() {
    return timers.size > 0 || root.querySelector("[data-caption-dirty], [data-upload=preparing]") !== null;
  }

  function renderStatus() {
    if (!seam) return;
    let current = seam.state;
    if (current === "saved" && waiting()) current = "saving";
    const refusedHere = refused.size || root.querySelector("[data-upload=refused]");
    const aside = seam.setAside.length; // set aside anywhere: "Saved" would not be true
    if (current === "saved" && (refusedHere || aside)) current = "refused";
    statusBox.dataset.state = current;
    const waitingCount = `${changes(seam.queued)} waiting`;
    let text = MESSAGES[current];
    if (current === "failed") text = `${text}: ${waitingCount}`;
    if (current === "offline" && seam.queued) text = `Offline: ${changes(seam.queued)} kept on this phone`;
    if (current === "refused" && !refusedHere) text = `Not saved: ${changes(aside)} set aside`;
    if (statusText.textContent !== text) statusText.textContent = text;
    retryButton.hidden = !(current === "failed" || current === "signed-out");
    signIn.hidden = current !== "signed-out";
    asideButton.hidden = !aside;
  }

  onStatus((status) => {
    seam = status;
    renderStatus();
  });
  retryButton.addEventListener("click", () => retry());
  asideButton.addEventListener("click", () => { // the list of changes set aside, at the top of the page
    const title = document.getElementById("sync-aside-title");
    title?.scrollIntoView({ block: "start" });
    title?.focus({ preventScroll: true });
  });

  // Debounced saves -------------------------------------------------------------------------------------------
  function later(key, run, delay) {
    const pending = timers.get(key);
    if (pending) clearTimeout(pending.timer);
    timers.set(key, { timer: setTimeout(() => now(key), delay), run });
    renderStatus();
  }

  function now(key) {
    const pending = timers.get(key);
    if (!pending) return;
    clearTimeout(pending.timer);
    timers.delete(key);
    pending.run();
    renderStatus();
  }

  function flushAll() {
    for (const key of [...timers.keys()]) now(key);
    flushCaptions(root);
  }

  // Answers ---------------------------------------------------------------------------------------------------
  const articles = new Map([...root.querySelectorAll("article[data-item]")].map((a) => [a.dataset.item, a]));
  const stopwatches = new Map();

  function bump(key) {
    const version = (versions.get(key) || 0) + 1;
    versions.set(key, version);
    return version;
  }

  /* A change handed to the outbox; until the server answers it, what the page shows for `key` is this page's own. */
  function track(key, promise) {
    sending.set(key, (sending.get(key) || 0) + 1);
    return promise.then((result) => {
      const left = sending.get(key) - 1;
      if (left) sending.set(key, left);
      else sending.delete(key);
      return result;
    });
  }

  function saveAnswer(key) {
    const answer = answers[key] || plainAnswer({});
    const version = bump(key);
    const { value, note, flagged } = answer;
    const body = JSON.stringify({ value, note, flagged, client_ts: Date.now() });
    const label = `Answer to “${itemsByKey.get(key).prompt}”`;
    const change = send({ method: "PUT", url: urls.answer(key), headers: jsonHeaders(), body, label });
    track(key, change).then((result) => {
      if (!result.ok) {
        refused.set(key, problem(result));
        showError(articles.get(key), problem(result));
      } else {
        refused.delete(key);
        showError(articles.get(key), "");
        const newest = versions.get(key) === version && !timers.has(key);
        if (result.data.applied === false && newest) {
          answers[key] = plainAnswer(result.data.answer); // a later change from another device won: show it
          showAnswer(key);
        }
      }
      refresh();
      renderStatus();
    });
  }

  function change(key, field, value, delay = 0) {
    answers[key] = { ...(answers[key] || plainAnswer({})), [field]: value };
    refresh();
    later(key, () => saveAnswer(key), delay);
    if (!delay) now(key);
  }

  for (const [key, article] of articles) {
    const item = itemsByKey.get(key);
    const kind = itemType(item.type);
    const inputs = [...article.querySelectorAll(`[name="${CSS.escape(key)}"]`)];
    const field = inputs[0];

    if (kind.control === "choose") {
      for (const input of inputs) input.addEventListener("change", () => change(key, "value", readValue(item, inputs)));
    } else if (kind.control === "type") {
      const typed = (delay) => {
        const value = checkedValue(item, field, article);
        if (value === undefined) return; // not a valid answer yet: the message by the field says why
        change(key, "value", value, delay);
        stopwatches.get(key)?.render();
      };
      field.addEventListener("input", () => typed(kind.typing ? TYPING_DELAY_MS : 0));
      field.addEventListener("change", () => now(key)); // leaving the field saves what is typed at once
    }

    if (kind.widget === "stepper") {
      for (const button of article.querySelectorAll(".counter-step")) {
        button.addEventListener("click", () => {
          const current = Number.parseInt(field.value, 10);
          const step = button.dataset.action === "increment" ? 1 : -1;
          const next = Math.min(10000, Math.max(0, (Number.isFinite(current) ? current : 0) + step));
          field.value = String(next);
          showError(article, "");
          change(key, "value", next, COUNTER_DELAY_MS);
        });
      }
    }

    if (kind.widget === "stopwatch") {
      const watch = new Stopwatch(article.querySelector("[data-stopwatch]"), {
        storageKey: `shopper:stopwatch:${state.id}:${key}`,
        seconds: () => answers[key]?.value ?? null,
        onStop: (seconds) => {
          field.value = String(seconds);
          showError(article, "");
          change(key, "value", seconds);
        },
        onReset: () => {
          field.value = "";
          change(key, "value", null);
        },
      });
      stopwatches.set(key, watch);
    }

    const note = article.querySelector("[data-field=note]");
    if (note) {
      note.addEventListener("input", () => change(key, "note", note.value, TYPING_DELAY_MS));
      note.addEventListener("change", () => now(key));
    }
    const flag = article.querySelector("[data-field=flagged]");
    if (flag) flag.addEventListener("change", () => change(key, "flagged", flag.checked));
  }

  /** Put an answer (from the server) into its controls. */
  function showAnswer(key) {
    const article = articles.get(key);
    if (!article) return;
    const item = itemsByKey.get(key);
    const { value, note, flagged } = answers[key] || plainAnswer({});
    const inputs = [...article.querySelectorAll(`[name="${CSS.escape(key)}"]`)];
    if (itemType(item.type).control === "choose") {
      const chosen = (Array.isArray(value) ? value : [value]).map(String);
      for (const input of inputs) input.checked = chosen.includes(input.value);
    } else if (inputs[0]) {
      inputs[0].value = value === null || value === undefined ? "" : String(value);
    }
    const noteField = article.querySelector("[data-field=note]");
    if (noteField) noteField.value = note;
    const flag = article.querySelector("[data-field=flagged]");
    if (flag) flag.checked = flagged;
    stopwatches.get(key)?.render();
  }

  // The wrap-up -----------------------------------------------------------------------------------------------
  const wrapup = root.querySelector("[data-wrapup]");
  const visitKey = `visit:${touchpointKey}`;

  function currentVisit() {
    return visits[touchpointKey] || { effort: null, promise_kept: null, note: "" };
  }

  function saveVisit() {
    const visit = currentVisit();
    const version = bump(visitKey);
    const body = JSON.stringify({
      effort: visit.effort,
      promise_kept: visit.promise_kept,
      note: visit.note,
      client_ts: Date.now(),
    });
    const label = `Wrap-up of “${touchpointTitles.get(touchpointKey)}”`;
    const change = send({ method: "PUT", url: urls.visit(touchpointKey), headers: jsonHeaders(), body, label });
    track(visitKey, change).then((result) => {
      if (!result.ok) {
        refused.set(visitKey, problem(result));
        showError(wrapup, problem(result));
      } else {
        refused.delete(visitKey);
        showError(wrapup, "");
        if (result.data.applied === false && versions.get(visitKey) === version && !timers.has(visitKey)) {
          visits[touchpointKey] = result.data.visit;
          showVisit();
        }
      }
      refresh();
      renderStatus();
    });
  }

  function changeVisit(field, value, delay = 0) {
    visits[touchpointKey] = { ...currentVisit(), [field]: value };
    refresh();
    later(visitKey, saveVisit, delay);
    if (!delay) now(visitKey);
  }

  function showVisit() {
    const visit = currentVisit();
    for (const input of wrapup.querySelectorAll("[name='wrapup.effort']")) {
      input.checked = Number(input.value) === visit.effort;
    }
    for (const input of wrapup.querySelectorAll("[name='wrapup.promise_kept']")) {
      input.checked = visit.promise_kept !== null && (input.value === "yes") === visit.promise_kept;
    }
    wrapup.querySelector("[name='wrapup.note']").value = visit.note || "";
  }

  if (wrapup) {
    for (const input of wrapup.querySelectorAll("[name='wrapup.effort']")) {
      input.addEventListener("change", () => changeVisit("effort", Number(input.value)));
    }
    for (const input of wrapup.querySelectorAll("[name='wrapup.promise_kept']")) {
      input.addEventListener("change", () => changeVisit("promise_kept", input.value === "yes"));
    }
    const note = wrapup.querySelector("[name='wrapup.note']");
    note.addEventListener("input", () => changeVisit("note", note.value, TYPING_DELAY_MS));
    note.addEventListener("change", () => now(visitKey));
  }

  // Photos ----------------------------------------------------------------------------------------------------
  const photoTiles = setupPhotos(root, {
    urls,
    template: document.getElementById("photo-tile-template"),
    onChange: () => showLocal(),
    onDirty: () => renderStatus(),
  });

  // What is shown: show_if, breaches, progress ---------------------------------------------------------------
  function refresh() {
    const values = Object.fromEntries(Object.entries(answers).map(([key, a]) => [key, a.value]));
    const visible = visibleKeys(definition, values);
    for (const [key, article] of articles) {
      const item = itemsByKey.get(key);
      article.hidden = !visible.has(key);
      const line = article.querySelector("[data-breach]");
      const reason = item.flag_if === "never" ? null : breach(item, answers[key]?.value ?? null);
      if (line.textContent !== (reason || "")) line.textContent = reason || "";
      line.hidden = !reason;
    }
    const counts = {};
    for (const photo of photos) if (photo.item_key) counts[photo.item_key] = (counts[photo.item_key] || 0) + 1;
    const lines = progress(definition, answers, counts);
    for (const entry of root.querySelectorAll("[data-progress]")) {
      const key = entry.dataset.progress;
      const line = lines[key];
      const visit = visits[key];
      const wrapped = visit && (visit.effort !== null || visit.promise_kept !== null);
      let text = `${line.answered} of ${line.visible} answered`;
      if (line.left) text += ` · ${line.left} required left`;
      if (wrapped) text += " · wrapped up";
      entry.querySelector("[data-progress-text]").textContent = text;
      entry.classList.toggle("done", line.left === 0 && line.answered > 0);
    }
    const here = lines[touchpointKey];
    root.querySelector("[data-left-here]").textContent = here.left
      ? `${here.left} required left here`
      : "nothing required left here";
  }

  // What this phone knows ------------------------------------------------------------------------------------
  // The page was drawn by the server, or comes from the offline cache and may be older than what this phone knows.
  // Show the local view: the newest state known here with the changes still waiting on top. Keys with a change
  // in progress on this page keep what the person just did.
  function busy(key) {
    return timers.has(key) || sending.has(key);
  }

  function same(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  let showing = null;
  let showAgain = false;

  function showLocal() {
    if (showing) {
      showAgain = true;
      return showing;
    }
    showing = (async () => {
      do {
        showAgain = false;
        const view = await localView(state.id);
        if (view) apply(view);
      } while (showAgain);
    })().finally(() => {
      showing = null;
    });
    return showing;
  }

  function apply(view) {
    for (const key of new Set([...Object.keys(answers), ...Object.keys(view.answers)])) {
      if (!itemsByKey.has(key) || busy(key)) continue;
      const next = plainAnswer(view.answers[key] || {});
      if (!same(answers[key] || plainAnswer({}), next)) {
        answers[key] = next;
        showAnswer(key);
      }
    }
    for (const [key, visit] of Object.entries(view.visits)) {
      if (key === touchpointKey && busy(visitKey)) continue;
      const changed = !same(visits[key], visit);
      visits[key] = visit;
      if (changed && key === touchpointKey && wrapup) showVisit();
    }
    photos.splice(0, photos.length, ...view.photos);
    photoTiles.show(view);
    showRefusals(view);
    refresh();
    renderStatus();
  }

  /* A change the server refused shows by its question while it is the newest change known of that question. */
  function showRefusals(view) {
    const newest = new Map();
    for (const entry of view.refused) {
      if (entry.kind === "answer") newest.set(entry.target, entry);
      else if (entry.kind === "visit" && entry.target === touchpointKey) newest.set(visitKey, entry);
    }
    for (const key of new Set([...refused.keys(), ...newest.keys()])) {
      if (busy(key)) continue;
      const entry = newest.get(key);
      const known = key === visitKey ? view.visits[touchpointKey] : view.answers[key];
      const stands = Boolean(entry) && (entry.sent?.client_ts || 0) >= (known?.client_ts || 0);
      if (stands) refused.set(key, entry.reason);
      else refused.delete(key);
      showError(key === visitKey ? wrapup : articles.get(key), stands ? entry.reason : "");
    }
  }

  onOutbox((event, mine) => {
    if (mine || !event.entry || event.entry.audit !== state.id) {
      if (event.type === "dismissed") showLocal();
      return;
    }
    if (["added", "done", "set-aside"].includes(event.type)) showLocal(); // another tab or the service worker
  });

  // Back online, or back on a page from the back/forward cache: read what the server holds now (another device
  // may have changed it) once nothing of this page is on its way.
  async function reload() {
    if (queued() || waiting()) return;
    if (await fetchAudit(root.dataset.api)) showLocal();
  }
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) reload();
  });
  let wasAway = false;
  onStatus((status) => {
    if (status.state === "saved" && wasAway) {
      wasAway = false;
      reload();
    }
    if (status.state === "offline" || status.state === "failed") wasAway = true;
  });

  // Leaving the page ------------------------------------------------------------------------------------------
  // Moving on within the audit waits only until every change is kept on this phone, not for the server: the next
  // page shows them from there, online or not. Leaving the audit, or closing it, while changes wait asks first.
  root.addEventListener("click", async (event) => {
    const link = event.target.closest("a[data-walk-nav]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    flushAll();
    event.preventDefault();
    link.setAttribute("aria-busy", "true");
    await stored();
    leave(link.href);
  });
  guardExit({ within: home, busy: waiting, beforeLeave: flushAll });

  refresh();
  renderStatus();
  try {
    await remember(state, { home });
    await showLocal();
  } finally {
    root.classList.add("live");
  }
}

// Reading the controls ----------------------------------------------------------------------------------------

function changes(count) {
  return `${count} change${count === 1 ? "" : "s"}`;
}

function plainAnswer(answer) {
  return { value: answer.value ?? null, note: answer.note || "", flagged: Boolean(answer.flagged) };
}

function jsonHeaders() {
  return { "Idempotency-Key": newKey(), "Content-Type": "application/json" };
}

function problem(result) {
  return (result.data && result.data.error) || `The server refused this change (${result.status}).`;
}

function showError(container, message) {
  if (!container) return;
  const error = container.querySelector(":scope > .item-error");
  if (!error) return;
  error.textContent = message;
  error.hidden = !message;
}

/** The answer of radios or checkboxes: a list when the item's `list_if` field says so (a multiple choice). */
function readValue(item, inputs) {
  const kind = itemType(item.type);
  const checked = inputs.filter((input) => input.checked).map((input) => input.value);
  if (kind.list_if && item[kind.list_if]) return checked;
  if (!checked.length) return null;
  return kind.value === "number" ? Number(checked[0]) : checked[0];
}

/** The value typed in a text, number, date, timer or counter field; undefined (and a hint) while it is not valid. */
function checkedValue(item, field, article) {
  const kind = itemType(item.type);
  if (kind.value === "text") return field.value.trim() ? field.value : null;
  if (kind.value === "date") return field.value || null;
  if (field.validity.badInput || !field.validity.valid) {
    if (field.value === "" && !field.validity.badInput) return null;
    showError(article, kind.hint);
    return undefined;
  }
  showError(article, "");
  if (field.value === "") return null;
  const value = Number(field.value);
  return Number.isFinite(value) ? value : undefined;
}

