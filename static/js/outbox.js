/* The offline outbox: every write the phone makes waits here, in IndexedDB, until the server has answered it.
 *
 * It follows Workbox's background-sync queue (GoogleChrome/workbox, packages/workbox-background-sync): one entry per
 * pending request with its method, URL, headers and body, the body as an ArrayBuffer (Safari has failed to store
 * Blobs in IndexedDB), replayed oldest first, one at a time. Workbox takes an entry out before sending it and puts
 * it back at the head when the send fails; here an entry is read, sent, and deleted only once the server has
 * answered, which comes to the same order but loses nothing when the page is closed mid-request. The entry's
 * Idempotency-Key (a photo's own uuid) makes sending it again harmless.
 *
 * Pages and the service worker run this very code. It is a plain script with no import or export that defines
 * self.ShopperOutbox: pages import it as a module for that side effect (autosave.js), and the worker loads it with
 * importScripts(), which works wherever service workers do. A module service worker ({type: "module"}) needs
 * Safari 15 and Firefox 147 (MDN's compatibility data); an older browser would then get no worker at all.
 *
 * Stores of the "shopper" database:
 *   outbox    {id (auto-increment: the order), user, audit, kind, target, label, method, url, headers,
 *              body (ArrayBuffer or null), form (null, or {fields: [[name, value]], file: {field, filename, type}}
 *              for a multipart upload, rebuilt into FormData when sent), created,
 *              attempts (tries the server failed, of its budget), nextTry (ms; not sent before), failure (the last:
 *              {status, reason, at})}; entries kept before attempts existed read as attempts 0, nextTry 0
 *   files     {id (the entry's), data: ArrayBuffer}: a photo's bytes, kept apart so counting never reads megabytes
 *   setaside  the entry plus {status, reason, data, cause ("refused" | "failed" | "held"), at}: a change that did
 *              not go through, kept until the person sends it again (tryAgain) or dismisses it
 *   audits    {id, state, gone, home}: the last server state known per audit, every confirmed write merged in
 *   meta      {key, value}: "user" (who is signed in on this phone), "status" (how the last replay ended:
 *              {state, at, cause, retryAt, away})
 *
 * How an answer from the server is treated (docs/api.md says it in short):
 *   2xx (with a JSON body, or none)   through: the entry goes, its result joins what is known of the audit.
 *   401                               the replay stops with everything kept, until the person signs in again.
 *   any other 4xx                     the server refuses this change: it is set aside with the reason ("refused")
 *                                     and the replay goes on.
 *   a network error, a timeout, a redirect (a Wi-Fi login page), a 2xx that is not JSON, 408, 429, 502, 503, 504
 *                                     the server is out of reach or busy, whatever the change: the whole replay
 *                                     stops and waits 5 s, then 10 s, 20 s ... at most 2 min, or what the server's
 *                                     Retry-After asks (at most 30 min). No entry's budget is spent.
 *   any other 5xx (500, 507 ...)      the server failed on this change. It spends one of its 5 tries and waits
 *                                     5 s, 15 s, 30 s, then 60 s before the next: about two minutes in all, which
 *                                     outlasts a hiccup (a restart, a lock timeout, a deploy). A failure that
 *                                     persists that long is something in this change the server cannot take;
 *                                     retrying longer would only hide it. After the fifth it is set aside
 *                                     ("failed"), where the person sees it, can copy what they typed and send it
 *                                     again. Meanwhile the replay goes on with the changes that do not depend on it.
 * A change waits behind an earlier change still kept here that it depends on: one of the same answer, wrap-up or
 * photo (its upload, caption, deletion), and a submit behind every earlier change of its audit. A submit is not sent
 * while an earlier change of its audit is set aside: it is set aside too ("held"), since submitting freezes the audit
 * without that change. The waits are kept in IndexedDB (the entry's nextTry, the status's retryAt), so a reload or a
 * browser restart neither forgets a budget nor starts the waits over. replay() keeps to every wait;
 * replay({online: true}) (the phone is back online: the network the server was lost on has changed) ends the
 * server's wait; replay({asked: true}) ("Sync now", "Try again": the person asked) sends at once whatever the waits.
 * tryAgain() puts a set-aside entry back at the end of the queue with a fresh budget and its own Idempotency-Key.
 */
(function (scope) {
  "use strict";

  const DB_NAME = "shopper";
  const DB_VERSION = 1;
  const NAME = "shopper-outbox"; // the Web Lock, the BroadcastChannel and the Background Sync tag
  const JSON_TIMEOUT_MS = 30000;
  const UPLOAD_TIMEOUT_MS = 180000;
  const BUDGET = 5; // tries of a change the server fails on
  const ENTRY_WAITS_MS = [5000, 15000, 30000, 60000]; // after its first, second ... failure
  const AWAY_FIRST_MS = 5000; // the server out of reach or busy: the whole replay waits, doubling
  const AWAY_LONGEST_MS = 120000;
  const RETRY_AFTER_LONGEST_MS = 30 * 60000;
  const AWAY = new Set([408, 429, 502, 503, 504]);
  const FAMILY = { answer: "answer", visit: "visit", photo: "photo", caption: "photo", "delete-photo": "photo" };
  const HELD = "An earlier change to this audit could not be saved, and submitting now would freeze the audit "
    + "without it. Save or dismiss that change first, then try again.";
  const API = /\/api\/audits\/(\d+)(?:\/(answers|touchpoints|photos|submit)(?:\/([^/?#]+))?)?\/?$/;
  const KINDS = {
    "PUT answers": "answer",
    "PUT touchpoints": "visit",
    "POST photos": "photo",
    "PATCH photos": "caption",
    "DELETE photos": "delete-photo",
    "POST submit": "submit",
  };

  // IndexedDB ---------------------------------------------------------------------------------------------------

  let opening = null;

  function database() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion);
        request.onsuccess = () => {
          const db = request.result;
          db.onversionchange = () => { // a newer Shopper wants to upgrade the database: let it, reopen later
            db.close();
            opening = null;
          };
          resolve(db);
        };
        request.onerror = () => {
          opening = null;
          reject(request.error);
        };
      });
    }
    return opening;
  }

  /* Versions only ever add stores or indexes: an upgrade never drops what may hold someone's unsent work. */
  function upgrade(db, from) {
    if (from < 1) {
      db.createObjectStore("outbox", { keyPath: "id", autoIncrement: true }).createIndex("audit", "audit");
      db.createObjectStore("files", { keyPath: "id" });
      db.createObjectStore("setaside", { keyPath: "id" });
      db.createObjectStore("audits", { keyPath: "id" });
      db.createObjectStore("meta", { keyPath: "key" });
    }
  }

  /* One transaction: `work(stores, done)` queues its requests with callbacks and hands its result to done(). The
     promise settles when the transaction has committed (strict durability: on disk, not just in the OS cache). A
     connection the browser has closed (Safari does, in tabs left in the background) is opened again, once. */
  function transaction(names, mode, work, again = true) {
    return database().then((db) => new Promise((resolve, reject) => {
      let tx;
      try {
        tx = db.transaction(names, mode, { durability: mode === "readwrite" ? "strict" : "default" });
      } catch (error) {
        opening = null;
        if (again) resolve(transaction(names, mode, work, false));
        else reject(error);
        return;
      }
      let value;
      tx.oncomplete = () => resolve(value);
      tx.onabort = () => reject(tx.error || new Error("The change could not be kept on this phone."));
      const stores = Object.fromEntries(names.map((name) => [name, tx.objectStore(name)]));
      work(stores, (result) => { value = result; });
    }));
  }

  function getAll(name, query) {
    return transaction([name], "readonly", (stores, done) => {
      const request = query === undefined ? stores[name].getAll() : stores[name].index("audit").getAll(query);
      request.onsuccess = () => done(request.result);
    });
  }

  function get(name, key) {
    return transaction([name], "readonly", (stores, done) => {
      const request = stores[name].get(key);
      request.onsuccess = () => done(request.result);
    });
  }

  async function getMeta(key) {
    const row = await get("meta", key);
    return row ? row.value : null;
  }

  function setMeta(key, value) {
    return transaction(["meta"], "readwrite", (stores) => { stores.meta.put({ key, value }); });
  }

  // Entries -----------------------------------------------------------------------------------------------------

  /** What a request is about: {audit, kind, target} from its method and the API's URL scheme (docs/api.md). */
  function describe(method, url) {
    const match = API.exec(new URL(url, scope.location.href).pathname);
    if (!match) return { audit: null, kind: "other", target: null };
    return {
      audit: Number(match[1]),
      kind: KINDS[`${method} ${match[2]}`] || "other",
      target: match[3] ? decodeURIComponent(match[3]) : null,
    };
  }

  /* An entry without its body: what events and the status carry. */
  function light(entry) {
    const { id, user, audit, kind, target, label, method, url, created, attempts = 0, nextTry = 0 } = entry;
    return { id, user, audit, kind, target, label, method, url, created, attempts, nextTry };
  }

  /**
   * Keep a write. request: {method, url, headers, body (string, ArrayBuffer or null), form, file (ArrayBuffer of a
   * multipart upload's file), label (for a person), user, created}. Resolves with the stored entry once on disk.
   */
  async function add({
    method, url, headers = {}, body = null, form = null, file = null, label = "", user = null, created = Date.now(),
  }) {
    const about = describe(method, url);
    if (about.kind === "photo" && form) {
      const id = form.fields.find(([name]) => name === "id");
      about.target = id ? id[1] : null;
    }
    const entry = {
      user: user === null ? await getMeta("user") : String(user),
      ...about,
      label,
      method,
      url,
      headers,
      body: typeof body === "string" ? new TextEncoder().encode(body).buffer : body,
      form,
      created,
      attempts: 0,
      nextTry: 0,
      failure: null,
    };
    entry.id = await transaction(["outbox", "files"], "readwrite", (stores, done) => {
      const put = stores.outbox.add(entry);
      put.onsuccess = () => {
        done(put.result);
        if (file) stores.files.put({ id: put.result, data: file });
      };
    });
    announce({ type: "added", entry: light(entry) });
    return entry;
  }

  /** Every kept entry, oldest first (all people's: each entry says whose it is). */
  function entries() {
    return getAll("outbox");
  }

  /** The kept entries of one audit, oldest first. */
  function entriesFor(audit) {
    return getAll("outbox", Number(audit));
  }

  function setAside() {
    return getAll("setaside");
  }

  /** The bytes of a kept photo (of an entry waiting or set aside), or null. */
  async function file(id) {
    const row = await get("files", id);
    return row ? row.data : null;
  }

  /** Forget a set-aside entry: the person has read why it was refused. */
  async function dismiss(id) {
    await transaction(["setaside", "files"], "readwrite", (stores) => {
      stores.setaside.delete(id);
      stores.files.delete(id);
    });
    announce({ type: "dismissed", id });
  }

  /**
   * Send a set-aside entry again: it goes back into the outbox at the end of the queue (its bytes with it) with a
   * fresh budget, keeping its Idempotency-Key, so the server applies it once however it went before. Resolves with
   * the new entry, or null if it was no longer set aside. The caller replays.
   */
  async function tryAgain(id) {
    const entry = await transaction(["setaside", "outbox", "files"], "readwrite", (stores, done) => {
      const read = stores.setaside.get(id);
      read.onsuccess = () => {
        if (!read.result) {
          done(null);
          return;
        }
        const { id: old, status, reason, data, cause, at, ...kept } = read.result;
        const again = { ...kept, attempts: 0, nextTry: 0, failure: null };
        const put = stores.outbox.add(again);
        put.onsuccess = () => {
          again.id = put.result;
          const bytes = stores.files.get(old);
          bytes.onsuccess = () => {
            if (!bytes.result) return;
            stores.files.put({ id: again.id, data: bytes.result.data });
            stores.files.delete(old);
          };
          stores.setaside.delete(old);
          done(again);
        };
      };
    });
    if (entry) announce({ type: "added", entry: light(entry), from: id });
    return entry;
  }

  /** The person signed in on this phone (a string id), or null: only their entries are replayed. */
  function user() {
    return getMeta("user");
  }

  async function setUser(id) {
    const value = id === null || id === undefined || id === "" ? null : String(id);
    if ((await getMeta("user")) !== value) await setMeta("user", value);
  }

  /** Counts for the sync indicator: this person's entries, other people's, what was set aside, the last outcome. */
  async function summary() {
    const [all, aside, who, status] = await Promise.all([entries(), setAside(), user(), getMeta("status")]);
    const mine = all.filter((entry) => entry.user === who);
    return {
      user: who,
      pending: mine.length,
      oldest: mine.length ? Math.min(...mine.map((entry) => entry.created)) : null, // a change sent again is older
      others: all.length - mine.length,
      setAside: aside.filter((entry) => entry.user === who),
      status: status || { state: "saved", at: 0 },
    };
  }

  // What is known of each audit ---------------------------------------------------------------------------------

  /* Per item and per wrap-up the server keeps the write with the latest client_ts, so of two states of the same
     item seen at different times, the one with the later client_ts is the newer truth. */
  function later(a, b) {
    if (!a) return b;
    if (!b) return a;
    return (b.client_ts || 0) >= (a.client_ts || 0) ? b : a;
  }

  function mergeByTime(older, newer) {
    const merged = { ...older };
    for (const [key, value] of Object.entries(newer || {})) merged[key] = later(merged[key], value);
    return merged;
  }

  /**
   * Remember a full state of an audit (the API's GET, or the one a page was drawn with). `fresh` says it came from
   * the network just now; otherwise it may be an old copy from the cache, and what is known already is kept where
   * it is newer. `home` is the audit's page on this site. Resolves with the merged record {id, state, gone, home}.
   */
  function rememberAudit(state, { fresh = false, home = "" } = {}) {
    return transaction(["audits"], "readwrite", (stores, done) => {
      const read = stores.audits.get(state.id);
      read.onsuccess = () => {
        const known = read.result;
        let record;
        if (!known) {
          record = { id: state.id, state, gone: [], home };
        } else {
          const newer = fresh || (state.revision || 0) >= (known.state.revision || 0);
          const base = newer ? state : known.state;
          const gone = fresh ? [] : known.gone;
          // a newer copy may lack photos this phone uploaded after it was made: keep those (deletions are in gone)
          let photos = known.state.photos;
          if (fresh) photos = state.photos;
          else if (newer) photos = union(state.photos, known.state.photos).filter((photo) => !gone.includes(photo.id));
          record = {
            id: state.id,
            state: {
              ...base,
              answers: mergeByTime(known.state.answers, state.answers),
              visits: mergeByTime(known.state.visits, state.visits),
              photos,
            },
            gone,
            home: home || known.home || "",
          };
        }
        stores.audits.put(record);
        done(record);
      };
    });
  }

  function union(first, second) {
    const ids = new Set(first.map((photo) => photo.id));
    return [...first, ...second.filter((photo) => !ids.has(photo.id))];
  }

  function audit(id) {
    return get("audits", Number(id));
  }

  function audits() {
    return getAll("audits");
  }

  /* A write the server confirmed, folded into what is known of its audit. The server counts every write in the
     audit's revision, so the known revision goes up by one: a copy of the page drawn before it is then older. */
  function fold(record, entry, data) {
    const state = { ...record.state, revision: (record.state.revision || 0) + 1 };
    const photos = () => state.photos.filter((photo) => photo.id !== entry.target);
    if (entry.kind === "answer" && data && data.answer) {
      state.answers = mergeByTime(state.answers, { [entry.target]: data.answer });
    } else if (entry.kind === "visit" && data && data.visit) {
      state.visits = mergeByTime(state.visits, { [entry.target]: data.visit });
    } else if ((entry.kind === "photo" || entry.kind === "caption") && data && data.photo) {
      const others = state.photos.filter((photo) => photo.id !== data.photo.id);
      state.photos = [...others, data.photo];
    } else if (entry.kind === "delete-photo") {
      state.photos = photos();
      return { ...record, state, gone: [...record.gone, entry.target] };
    } else if (entry.kind === "submit" && data) {
      state.status = data.status || state.status;
      state.score = data.score === undefined ? state.score : data.score;
    }
    return { ...record, state };
  }

  // Sending -----------------------------------------------------------------------------------------------------

  /** The fetch() options for an entry; a multipart upload gets its FormData rebuilt from the kept bytes. */
  async function requestInit(entry) {
    let body = entry.body;
    if (entry.form) {
      body = new FormData();
      for (const [name, value] of entry.form.fields) body.append(name, value);
      const bytes = await file(entry.id);
      const { field, filename, type } = entry.form.file || {};
      if (bytes && field) body.append(field, new Blob([bytes], { type }), filename);
    }
    return {
      method: entry.method,
      headers: { Accept: "application/json", ...entry.headers },
      body,
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual", // the API never redirects: a redirect means something else answered (a Wi-Fi login page)
    };
  }

  /* {status, outcome, data, wait}: outcome "ok", "refused", "signed-out", "away" (the server out of reach or busy)
     or "failed" (the server failed on this change); wait is the server's Retry-After in ms, or null. Throws on a
     network error or a timeout. */
  async function transmit(entry) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), entry.form ? UPLOAD_TIMEOUT_MS : JSON_TIMEOUT_MS);
    try {
      const response = await fetch(entry.url, { ...(await requestInit(entry)), signal: controller.signal });
      const text = await response.text();
      let data = null;
      let readable = true;
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          readable = false;
        }
      }
      const status = response.status;
      let outcome = "away"; // also a redirect (status 0: a Wi-Fi login page) and a 2xx that is not JSON
      if (!AWAY.has(status)) {
        if (status === 401) outcome = "signed-out";
        else if (status >= 500) outcome = "failed";
        else if (status >= 400) outcome = "refused";
        else if (response.ok && readable) outcome = "ok";
      }
      return { status, outcome, data, wait: retryAfter(response.headers.get("Retry-After")) };
    } finally {
      clearTimeout(timer);
    }
  }

  /* Retry-After (seconds, or an HTTP date) in ms, within 1 s and 30 min; null without one. */
  function retryAfter(value) {
    if (!value) return null;
    const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
    return Number.isFinite(ms) ? Math.min(Math.max(ms, 1000), RETRY_AFTER_LONGEST_MS) : null;
  }

  /* `later` must wait while `earlier`, before it in the queue, is still kept. */
  function dependsOn(later, earlier) {
    if (later.kind === "other" || earlier.kind === "other") return true;
    if (later.audit !== earlier.audit) return false;
    if (later.kind === "submit" || earlier.kind === "submit") return true;
    return FAMILY[later.kind] === FAMILY[earlier.kind] && later.target === earlier.target;
  }

  /* The first entry due now that waits for no earlier one; entries tried in this pass wait for the next. */
  function next(mine, now, asked, tried) {
    const waiting = [];
    for (const entry of mine) {
      const due = !tried.has(entry.id) && (asked || !(entry.nextTry > now));
      if (due && !waiting.some((earlier) => dependsOn(entry, earlier))) return entry;
      waiting.push(entry);
    }
    return null;
  }

  /* The server took it: the entry goes, and its result joins what is known of the audit, in one transaction. */
  function confirm(entry, answer) {
    return transaction(["outbox", "files", "audits"], "readwrite", (stores) => {
      stores.outbox.delete(entry.id);
      stores.files.delete(entry.id);
      if (entry.audit === null) return;
      const read = stores.audits.get(entry.audit);
      read.onsuccess = () => {
        if (read.result) stores.audits.put(fold(read.result, entry, answer.data));
      };
    });
  }

  /* Out of the queue, bytes and all, with why: nothing typed is lost. An entry another tab has sent meanwhile is
     not brought back. */
  function putAside(entry, { status, reason, data = null, cause }) {
    return transaction(["outbox", "setaside"], "readwrite", (stores) => {
      const read = stores.outbox.get(entry.id);
      read.onsuccess = () => {
        if (!read.result) return;
        stores.outbox.delete(entry.id);
        stores.setaside.put({ ...entry, status, reason, data, cause, at: Date.now() });
      };
    }).then(() => reason);
  }

  function refuse(entry, answer) {
    const reason = (answer.data && answer.data.error) || `The server refused this change (${answer.status}).`;
    return putAside(entry, { status: answer.status, reason, data: answer.data, cause: "refused" });
  }

  /* The server failed on this change: one try of its budget spent, and a wait before the next; set aside once the
     budget is spent. Resolves with {aside, reason}. */
  async function spend(entry, answer) {
    const attempts = (entry.attempts || 0) + 1;
    const said = answer.data && answer.data.error;
    if (attempts >= BUDGET) {
      const reason = `The server failed on this change ${attempts} times in a row (${answer.status})`
        + `${said ? `: “${said}”` : "."}`;
      await putAside({ ...entry, attempts }, { status: answer.status, reason, data: answer.data, cause: "failed" });
      return { aside: true, reason };
    }
    const at = Date.now();
    const reason = said || `The server could not save this change (${answer.status}).`;
    const failure = { status: answer.status, reason, at };
    await transaction(["outbox"], "readwrite", (stores) => {
      const read = stores.outbox.get(entry.id);
      read.onsuccess = () => { // another tab may have sent it meanwhile: never bring it back
        if (!read.result) return;
        stores.outbox.put({ ...read.result, attempts, nextTry: at + ENTRY_WAITS_MS[attempts - 1], failure });
      };
    });
    return { aside: false, reason };
  }

  /* A submit waits for nothing set aside before it in its audit: it would freeze the audit without that change. */
  async function heldBack(entry) {
    const aside = await setAside();
    return aside.some((other) => other.user === entry.user && other.audit === entry.audit && other.kind !== "submit"
      && other.created <= entry.created);
  }

  async function finish(result) {
    const status = { ...result, at: Date.now() };
    await setMeta("status", status);
    announce({ type: "status", status });
    return status;
  }

  /* Send this person's entries, oldest first, until none is left, none is due, or the server is away. */
  async function drain({ asked = false, online = false } = {}) {
    const who = await user();
    const last = (await getMeta("status")) || { state: "saved", at: 0 };
    const tried = new Set();
    let first = true;
    let progressed = false;
    for (;;) {
      const mine = (await entries()).filter((entry) => entry.user === who);
      if (!mine.length) return finish({ state: "saved" });
      if (scope.navigator.onLine === false) return finish({ state: "offline" });
      const now = Date.now();
      const away = last.state === "failed" && last.cause === "away";
      if (first && away && !asked && !online && last.retryAt > now) return last; // still waiting for the server
      first = false;
      const entry = next(mine, now, asked, tried);
      if (!entry) {
        const times = mine.map((each) => each.nextTry || 0).filter((time) => time > now);
        const retryAt = times.length ? Math.min(...times) : now + ENTRY_WAITS_MS[0];
        return finish({ state: "failed", cause: "error", retryAt });
      }
      if (entry.kind === "submit" && (await heldBack(entry))) {
        const reason = await putAside(entry, { status: null, reason: HELD, cause: "held" });
        announce({ type: "set-aside", entry: light(entry), status: null, data: null, reason });
        continue;
      }
      let answer;
      try {
        answer = await transmit(entry);
      } catch {
        if (scope.navigator.onLine === false) return finish({ state: "offline" });
        answer = { status: 0, outcome: "away", data: null, wait: null };
      }
      if (answer.outcome === "signed-out") return finish({ state: "signed-out" });
      if (answer.outcome === "away") {
        const count = !progressed && away ? (last.away || 0) + 1 : 1;
        const wait = answer.wait ?? Math.min(AWAY_FIRST_MS * 2 ** (count - 1), AWAY_LONGEST_MS);
        return finish({ state: "failed", cause: "away", away: count, retryAt: Date.now() + wait });
      }
      progressed = true;
      if (answer.outcome === "ok") {
        await confirm(entry, answer);
        announce({ type: "done", entry: light(entry), status: answer.status, data: answer.data });
      } else if (answer.outcome === "refused") {
        const reason = await refuse(entry, answer);
        announce({ type: "set-aside", entry: light(entry), status: answer.status, data: answer.data, reason });
      } else {
        tried.add(entry.id);
        const { aside, reason } = await spend(entry, answer);
        const type = aside ? "set-aside" : "retrying";
        announce({ type, entry: light(entry), status: answer.status, data: answer.data, reason });
      }
    }
  }

  /* One replay at a time across every tab and the service worker (Web Locks); without them (Safari before 15.4)
     replays may overlap, which the Idempotency-Keys make harmless. */
  function exclusively(work) {
    const locks = scope.navigator.locks;
    return locks ? locks.request(NAME, work) : work();
  }

  let running = null;
  let again = null;

  /**
   * Send what is kept. Resolves with how it ended: {state: "saved" | "offline" | "failed" | "signed-out", at}, and
   * for "failed" {cause: "away" (the server out of reach or busy) | "error" (it failed on a change), retryAt (when
   * the next try is due)}. `online`: the phone is back online, the server's wait ends; `asked`: the person asked,
   * every wait ends. A call while a replay runs in this context joins it, and makes it look once more: for entries
   * added meanwhile, after a pass that found the phone offline (the call may come from the "online" event, which
   * can arrive while that pass is still finishing; without another look the change would wait for the next
   * trigger), and when the call ends waits that pass kept to.
   */
  function replay({ asked = false, online = false } = {}) {
    if (running) {
      again = { asked: asked || Boolean(again && again.asked), online: online || Boolean(again && again.online) };
      return running;
    }
    running = (async () => {
      let result;
      let how = { asked, online };
      do {
        again = null;
        const pass = how;
        result = await exclusively(() => drain(pass));
        how = again;
      } while (how && (result.state === "saved" || result.state === "offline" || how.asked || how.online));
      return result;
    })().finally(() => {
      running = null;
    });
    return running;
  }

  // Telling every page --------------------------------------------------------------------------------------------

  const listeners = new Set();
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(NAME) : null;
  if (channel) channel.onmessage = (event) => deliver(event.data);

  function deliver(event) {
    for (const listener of [...listeners]) listener(event);
  }

  /* Listeners here hear it at once; other tabs and the service worker through the BroadcastChannel. */
  function announce(event) {
    deliver(event);
    if (channel) channel.postMessage(event);
  }

  /**
   * Hear every change: {type: "added" | "done" | "retrying" | "set-aside" | "dismissed" | "status", ...}; "retrying":
   * the server failed on an entry, tried again later. Returns an off().
   */
  function listen(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  scope.ShopperOutbox = Object.freeze({
    SYNC_TAG: NAME,
    add,
    audit,
    audits,
    describe,
    dismiss,
    entries,
    entriesFor,
    file,
    listen,
    rememberAudit,
    replay,
    requestInit,
    setAside,
    setUser,
    summary,
    tryAgain,
    user,
  });
})(self);
