// The one way pages write to the server. Every change goes first into the outbox kept on this phone (outbox.js, in
// IndexedDB) and is sent from there; nothing else calls fetch() to write.
//
//   send({method, url, headers, body, label}) -> Promise<{status, ok, data}>, with .stored: Promise<id | null>
//
// `headers` carries the change's Idempotency-Key (newKey()), made once per change, so however often it is replayed
// the server applies it once. `body` is a JSON string, a FormData (a photo: its fields and its file's bytes are
// kept) or null; `label` names the change for a person, should the server refuse it. `.stored` resolves with the
// outbox entry's id once the change is on disk (null if the phone could not keep it). The promise resolves with
// the server's final answer, 2xx or a 4xx refusal (`data.error` says why), and never rejects. It may stay pending
// for days, and the page may be gone before it resolves: the change stays kept and is sent by the next page,
// another tab or the service worker.
//
// Replays start on page load, when the phone is back online or back on this page, after each save, from retry()
// (the "Sync now" button), on a timer set for the next try the outbox has planned (outbox.js says how it backs off),
// and on Background Sync in the service worker. onStatus(listener) hears {state, queued, oldest, setAside, others,
// retryAt, cause}; state is "saved" (nothing waits), "saving", "offline", "failed" (tried again at retryAt; cause
// "away": the server was out of reach or busy, "error": it failed on a change) or "signed-out" (kept until the
// person signs in again). localView() is what a page shows: the last server state known on this phone with the
// changes still waiting applied on top.
// Modules import each other by relative specifiers; the server gives each the page's `v` query
// (shopper/pwa/files.py), so a module has one URL, one instance, and is cached like the page's own scripts.
import "./outbox.js"; // defines globalThis.ShopperOutbox

const outbox = globalThis.ShopperOutbox;
const signedIn = document.getElementById("sync")?.dataset.user || "";
const UNWRITTEN = "shopper-unwritten:"; // + Idempotency-Key, in localStorage: a change until IndexedDB has it

const ASKED_TO_KEEP = "shopper-storage-asked";
const TIMER_SLACK_MS = 100; // a timer may fire a moment before the time it was set for
const KEEPALIVE_LIMIT = 60000; // browsers allow 64 KB of keepalive bodies in flight

const here = new Map(); // entry id -> {entry, settle}: changes made on this page the server has not answered yet
const storing = new Set(); // changes being written to IndexedDB
const exitHooks = new Set(); // hand over what is being typed, before the page goes
const notedHere = new Set(); // localStorage names of this page's own changes: theirs to forget, not to recover
const statusListeners = new Set();
const outboxListeners = new Set();
// Nothing is said before the outbox has been read: "saved" is never a default.
let current = null;
let replaying = false;
let retryTimer = null;
let leavingWithin = false;
let askedToKeep = false;

/** A fresh Idempotency-Key: a random UUID without dashes. */
export function newKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID().replaceAll("-", "");
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // plain-http pages have no randomUUID
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh UUID with dashes (a photo's id). */
export function newUuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const hex = newKey().split("");
  hex[12] = "4";
  hex[16] = "89ab"[parseInt(hex[16], 16) & 3];
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function send({ method, url, headers = {}, body = null, label = "" }) {
  let settle;
  const result = new Promise((resolve) => {
    settle = resolve;
  });
  const unwritten = body instanceof FormData ? null : note({ method, url, headers, body, label });
  const stored = keep({ method, url, headers, body, label }, settle);
  if (unwritten) {
    stored.then((id) => {
      if (id) forget(unwritten);
    });
  }
  storing.add(stored);
  stored.finally(() => {
    storing.delete(stored);
    update();
  });
  if (current) {
    tell({ ...current, state: current.state === "offline" ? "offline" : "saving", queued: current.queued + 1 });
  }
  update();
  result.stored = stored;
  return result;
}

async function keep(request, settle) {
  try {
    await ready;
    const entry = await outbox.add({ ...(await unpack(request)), user: signedIn || null });
    here.set(entry.id, { entry, settle });
    if (!askedToKeep) {
      askedToKeep = true;
      keepStorage().catch(() => {});
    }
    kick();
    registerSync();
    return entry.id;
  } catch {
    settle({ status: 0, ok: false, data: { error: "This phone could not keep the change: its storage may be full." } });
    return null;
  }
}

/* A FormData becomes its text fields and one file's bytes (ArrayBuffer: Safari has failed to keep Blobs). */
async function unpack({ method, url, headers, body, label }) {
  if (!(body instanceof FormData)) return { method, url, headers, body, label };
  const fields = [];
  let file = null;
  let bytes = null;
  for (const [name, value] of body) {
    if (typeof value === "string") {
      fields.push([name, value]);
    } else {
      file = { field: name, filename: value.name || "photo.jpg", type: value.type || "application/octet-stream" };
      bytes = await value.arrayBuffer();
    }
  }
  return { method, url, headers, label, body: null, form: { fields, file }, file: bytes };
}

/*
 * An IndexedDB write takes a few milliseconds, and is lost if the page goes away first (the back button, a closed
 * tab, a browser the phone shuts down). localStorage writes at once: each change is noted there the moment it is
 * made, under its own key (so tabs never overwrite each other's), and forgotten once IndexedDB has it on disk. The
 * next page puts what is left into the outbox, unless the outbox already has it (same Idempotency-Key). Photos are
 * too big for localStorage: the walk asks before leaving while one is being prepared.
 */
function note(change) {
  const name = UNWRITTEN + change.headers["Idempotency-Key"];
  try {
    localStorage.setItem(name, JSON.stringify({ ...change, user: signedIn || null, created: Date.now() }));
    notedHere.add(name);
    return name;
  } catch {
    return null; // no room, or no localStorage: IndexedDB alone then
  }
}

function forget(name) {
  localStorage.removeItem(name);
}

async function recover() {
  const names = Object.keys(localStorage).filter((name) => name.startsWith(UNWRITTEN) && !notedHere.has(name));
  if (!names.length) return;
  const [waiting, aside] = await Promise.all([outbox.entries(), outbox.setAside()]);
  const known = new Set([...waiting, ...aside].map((entry) => entry.headers["Idempotency-Key"]));
  for (const name of names) {
    const change = JSON.parse(localStorage.getItem(name) || "null");
    if (change && !known.has(change.headers["Idempotency-Key"])) await outbox.add(change);
    forget(name);
  }
}

// A signed-out page leaves the last person in place: their changes still wait for them.
const ready = (signedIn ? outbox.setUser(signedIn) : Promise.resolve()).then(recover).catch(() => {});

/** Send what is kept now, without waiting for any planned try ("Sync now"). */
export function retry() {
  kick({ asked: true });
}

function kick(how = {}) {
  if (!signedIn) return;
  replaying = true;
  update();
  outbox.replay(how).then(
    (status) => {
      replaying = false;
      follow(status);
      update();
    },
    () => {
      replaying = false;
      update();
    },
  );
}

/* Be there for the next try the outbox has planned, whichever tab or worker made the plan. */
function follow(status) {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (!signedIn || status.state !== "failed" || !status.retryAt) return;
  retryTimer = setTimeout(() => kick(), Math.max(0, status.retryAt - Date.now()) + TIMER_SLACK_MS);
}

/* Background Sync (Chrome, Android): the service worker replays even after every page is closed. */
function registerSync() {
  navigator.serviceWorker?.getRegistration()
    .then((registration) => registration?.sync?.register(outbox.SYNC_TAG))
    .catch(() => {});
}

/** Ask the browser not to evict what is kept on this phone. Resolves to true, false (refused) or null (unknown). */
export async function keepStorage() {
  if (!navigator.storage?.persist) return null;
  if (await navigator.storage.persisted()) return true;
  localStorage.setItem(ASKED_TO_KEEP, "1");
  return navigator.storage.persist();
}

/** {asked, persisted}: whether we asked to keep this site's storage, and whether the browser has promised to. */
export async function storageKept() {
  const persisted = navigator.storage?.persisted ? await navigator.storage.persisted() : null;
  return { asked: Boolean(localStorage.getItem(ASKED_TO_KEEP)), persisted };
}

/** How many changes wait: on disk and being written. */
export function queued() {
  return Math.max(current?.queued || 0, storing.size);
}

/** Resolves once every change sent so far is on disk (not yet on the server). */
export function stored() {
  return Promise.all([...storing]);
}

/** Hear the status (see above) as soon as it is known, and whenever it changes. */
export function onStatus(listener) {
  statusListeners.add(listener);
  if (current) listener(current);
  return () => statusListeners.delete(listener);
}

/** Hear every outbox event (see outbox.js) with `mine`: true when the change was made on this page. */
export function onOutbox(listener) {
  outboxListeners.add(listener);
  return () => outboxListeners.delete(listener);
}

/** Forget a change the server refused, once the person has read why. */
export function dismiss(id) {
  return outbox.dismiss(id);
}

/** Send a set-aside change again, at once, with a fresh budget (outbox.js tryAgain). */
export async function tryAgain(id) {
  const entry = await outbox.tryAgain(id);
  if (entry) retry();
  return entry;
}

/** The kept bytes of a photo waiting to upload or set aside, as a Blob (shrunk on the phone: a JPEG), or null. */
export async function keptPhoto(entryId) {
  const bytes = await outbox.file(entryId);
  return bytes ? new Blob([bytes], { type: "image/jpeg" }) : null;
}

/**
 * The page is going away, not to another page of the audit (which sends them at once): send every small change
 * made here that the server has not answered, with keepalive, so it arrives even after the page is gone (Safari
 * has no Background Sync). Not while the server is out of reach. The entries stay kept; replayed later, their keys
 * make the server answer as the first time. A submit is never sent early: it must follow every change before it.
 */
function flushForExit() {
  if (leavingWithin || !current || ["failed", "offline", "signed-out"].includes(current.state)) return;
  for (const { entry } of here.values()) {
    if (entry.form || entry.kind === "submit" || (entry.body && entry.body.byteLength > KEEPALIVE_LIMIT)) continue;
    fetch(entry.url, {
      method: entry.method,
      headers: { Accept: "application/json", ...entry.headers },
      body: entry.body,
      credentials: "same-origin",
      keepalive: true,
    }).catch(() => {});
  }
}

/**
 * Pages of one audit warn before the person leaves the audit, or closes it, while changes wait on this phone;
 * moving between the audit's own pages needs no warning. `within` is the audit's path; `busy()` says a change is
 * still being typed; `beforeLeave()` hands such changes over first.
 */
export function guardExit({ within, busy = () => false, beforeLeave = () => {} }) {
  exitHooks.add(beforeLeave);
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target.closest?.("a[href]");
      leavingWithin = Boolean(link && !link.target && inside(link.href, within));
    },
    true,
  );
  window.addEventListener("pageshow", () => {
    leavingWithin = false; // back from the back/forward cache
  });
  window.addEventListener("beforeunload", (event) => {
    beforeLeave();
    if (busy() || (!leavingWithin && queued() > 0)) {
      event.preventDefault();
      event.returnValue = ""; // the browser asks "Leave site?"
    }
  });
}

/** Go to another page of the same audit (or sign out after being warned) without the leaving warning. */
export function leave(url) {
  leavingWithin = true;
  if (url) window.location.assign(url);
}

function inside(href, within) {
  const path = new URL(href, window.location.href).pathname;
  return path === within || path.startsWith(`${within}/`);
}

/** Keep a full state of an audit on this phone; `fresh` when it came from the server just now. */
export async function remember(state, { fresh = false, home = "" } = {}) {
  await ready;
  return outbox.rememberAudit(state, { fresh, home });
}

/** Fetch an audit's state from the server (never a cached copy) and keep it. Null when offline or refused. */
export async function fetchAudit(url) {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) return null;
    return remember(await response.json(), { fresh: true });
  } catch {
    return null;
  }
}

/**
 * What the page shows for an audit: the last server state known here, with this person's waiting changes applied
 * in order, as the server will apply them (per item, the latest client_ts wins). A photo still to upload carries
 * `waiting` (its outbox entry's id); the view adds `submitQueued` and `refused` (this audit's set-aside entries).
 */
export async function localView(auditId) {
  await ready;
  const [record, pending, aside] = await Promise.all([
    outbox.audit(auditId),
    outbox.entriesFor(auditId),
    outbox.setAside(),
  ]);
  if (!record) return null;
  const state = record.state;
  const view = {
    ...state,
    answers: { ...state.answers },
    visits: { ...state.visits },
    photos: state.photos.map((photo) => ({ ...photo })),
    submitQueued: false,
    refused: aside.filter((entry) => entry.audit === Number(auditId) && entry.user === signedIn).map(readable),
  };
  for (const entry of pending) {
    if (entry.user !== signedIn) continue;
    const body = json(entry);
    const key = entry.target;
    if (entry.kind === "answer" && body) {
      if (newer(body, view.answers[key])) view.answers[key] = { item_key: key, ...body };
    } else if (entry.kind === "visit" && body) {
      if (newer(body, view.visits[key])) view.visits[key] = { touchpoint_key: key, ...body };
    } else if (entry.kind === "photo" && entry.form) {
      const fields = Object.fromEntries(entry.form.fields);
      if (!view.photos.some((photo) => photo.id === key)) {
        view.photos.push({
          id: key,
          touchpoint_key: fields.touchpoint_key,
          item_key: fields.item_key || null,
          caption: fields.caption || "",
          waiting: entry.id,
        });
      }
    } else if (entry.kind === "caption" && body) {
      const photo = view.photos.find((p) => p.id === key);
      if (photo) photo.caption = body.caption;
    } else if (entry.kind === "delete-photo") {
      view.photos = view.photos.filter((photo) => photo.id !== key);
    } else if (entry.kind === "submit") {
      view.submitQueued = true;
    }
  }
  return view;
}

function newer(change, known) {
  return (change.client_ts || 0) >= (known?.client_ts || 0);
}

function json(entry) {
  if (!entry.body || entry.form) return null;
  try {
    return JSON.parse(new TextDecoder().decode(entry.body));
  } catch {
    return null;
  }
}

/* A set-aside entry with its JSON body read: what the person had entered, so nothing typed is lost. */
function readable(entry) {
  return { ...entry, sent: json(entry), fields: entry.form ? Object.fromEntries(entry.form.fields) : null };
}

// The status ---------------------------------------------------------------------------------------------------

let asked = 0;

/* Read the counts again (coalesced; the newest reading wins) and tell the listeners. */
function update() {
  const ticket = ++asked;
  queueMicrotask(async () => {
    if (ticket !== asked) return;
    let summary;
    try {
      summary = await outbox.summary();
    } catch {
      return;
    }
    if (ticket !== asked) return;
    tell(compute(summary));
  });
}

function tell(status) {
  current = status;
  for (const listener of [...statusListeners]) listener(current);
}

function compute(summary) {
  const waiting = Math.max(summary.pending, storing.size);
  let state = "saved";
  if (navigator.onLine === false) state = "offline";
  else if (waiting && !signedIn) state = "signed-out";
  else if (waiting && replaying) state = "saving";
  else if (waiting && ["failed", "signed-out"].includes(summary.status.state)) state = summary.status.state;
  else if (waiting) state = "saving";
  return {
    state,
    queued: waiting,
    oldest: summary.oldest,
    setAside: summary.setAside.map(readable),
    others: summary.others,
    retryAt: state === "failed" ? summary.status.retryAt || null : null,
    cause: state === "failed" ? summary.status.cause || null : null,
  };
}

outbox.listen((event) => {
  const mine = Boolean(event.entry && here.has(event.entry.id));
  if (mine && (event.type === "done" || event.type === "set-aside")) {
    const { settle } = here.get(event.entry.id);
    here.delete(event.entry.id);
    const data = event.type === "done" ? event.data : { ...(event.data || {}), error: event.reason };
    settle({ status: event.status, ok: event.type === "done", data });
  }
  if (event.type === "status") follow(event.status);
  for (const listener of [...outboxListeners]) listener(event, mine);
  update();
});

if (signedIn) {
  ready.then(() => kick()); // page load
  window.addEventListener("online", () => kick({ online: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") kick();
  });
}
function leaving() {
  for (const hook of exitHooks) hook(); // what is being typed becomes a change, noted at once
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") leaving(); // a phone may discard a hidden page without another word
});
window.addEventListener("pagehide", () => {
  leaving();
  flushForExit();
});
window.addEventListener("offline", update);
update();
