// The one way the walk writes to the server. Every change goes through send(); nothing else calls fetch() to write.
//
//   send({method, url, headers, body}) -> Promise<{status, ok, data}>
//
// `headers` must carry the change's Idempotency-Key (newKey()), made once per change: a retry reuses it, so the
// server applies the change exactly once. `body` is a JSON string or a FormData. Writes leave strictly in order,
// one at a time. The promise resolves with the server's final answer: 2xx, or a 4xx refusal (`data.error` says
// why, for a person). A network error or a 5xx keeps the write, and every write after it, queued until retry();
// a 401 does the same until the person has signed in again. So a promise may stay pending for a long time, and it
// never rejects.
//
// The status of the queue goes to the listeners of onStatus(): {state: "saved" | "saving" | "failed" |
// "signed-out", queued: n}. Today the queue lives in memory; the offline outbox will keep it in IndexedDB behind
// this same interface.

const queue = [];
const listeners = new Set();
let inFlight = false;
let blocked = null; // null, "failed" or "signed-out"
let retryTimer = null;
let retryDelay = 0;

const FIRST_RETRY_MS = 15000;
const LONGEST_RETRY_MS = 120000;
const KEEPALIVE_LIMIT = 60000; // browsers allow 64 KB of keepalive bodies in flight

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

export function send({ method, url, headers = {}, body = null }) {
  return new Promise((resolve) => {
    queue.push({ request: { method, url, headers, body }, resolve });
    notify();
    pump();
  });
}

/** Send the kept writes again, in order. */
export function retry() {
  clearTimeout(retryTimer);
  retryTimer = null;
  blocked = null;
  notify();
  pump();
}

export function queued() {
  return queue.length;
}

export function onStatus(listener) {
  listeners.add(listener);
  listener(status());
  return () => listeners.delete(listener);
}

/** Resolves true once everything queued is saved, false as soon as the queue is stuck (offline, signed out). */
export function settled() {
  return new Promise((resolve) => {
    const listener = ({ state }) => {
      if (state === "saving") return;
      listeners.delete(listener);
      resolve(state === "saved");
    };
    listeners.add(listener);
    listener(status());
  });
}

/** True when leaving the page now would lose a write: the queue is stuck, or holds a photo still to upload. */
export function atRisk() {
  return queue.length > 0 && (blocked !== null || queue.some((entry) => !small(entry.request.body)));
}

/**
 * The page is going away: send every small write still waiting behind the one in flight at once, with keepalive, so
 * it arrives after the page is gone. Their keys make this safe if the page comes back and sends them again.
 */
export function flushForExit() {
  if (blocked) return;
  for (const entry of queue.slice(inFlight ? 1 : 0)) {
    if (small(entry.request.body)) transport(entry.request).catch(() => {});
  }
}

function small(body) {
  return typeof body === "string" && body.length < KEEPALIVE_LIMIT;
}

function status() {
  let state = "saved";
  if (blocked) state = blocked;
  else if (queue.length) state = "saving";
  return { state, queued: queue.length };
}

function notify() {
  const current = status();
  for (const listener of [...listeners]) listener(current);
}

async function pump() {
  if (inFlight || blocked || !queue.length) return;
  inFlight = true;
  const entry = queue[0];
  let response = null;
  try {
    response = await transport(entry.request);
  } catch {
    // offline, DNS, connection reset: the write may or may not have arrived; its key makes a retry safe
    response = null;
  }
  inFlight = false;
  if (response === null || response.status >= 500 || response.status === 408 || response.status === 429) {
    block("failed");
    return;
  }
  if (response.status === 401) {
    block("signed-out");
    return;
  }
  queue.shift();
  retryDelay = 0;
  entry.resolve(response);
  notify();
  pump();
}

function block(reason) {
  blocked = reason;
  notify();
  if (reason === "failed") {
    retryDelay = Math.min(retryDelay ? retryDelay * 2 : FIRST_RETRY_MS, LONGEST_RETRY_MS);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(retry, retryDelay);
  }
}

async function transport({ method, url, headers, body }) {
  const response = await fetch(url, {
    method,
    headers: { Accept: "application/json", ...headers },
    body,
    credentials: "same-origin",
    cache: "no-store",
    keepalive: small(body), // a change made just before leaving the page still arrives
  });
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: "The server sent an answer we could not read." };
    }
  }
  return { status: response.status, ok: response.ok, data };
}

// Back on the page, or the network is back: try the kept writes at once rather than waiting for the timer.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && blocked) retry();
});
globalThis.addEventListener("online", () => {
  if (blocked === "failed") retry();
});
