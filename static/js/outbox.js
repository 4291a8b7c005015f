/* The offline outbox: every write the phone makes waits here, in IndexedDB, until the server has answered it.
 *
 * It follows Workbox's background-sync queue (GoogleChrome/workbox, packages/workbox-background-sync): one entry per
 * pending request with its method, URL, headers and body, the body as an ArrayBuffer (Safari has failed to store
 * Blobs in IndexedDB), replayed oldest first, one at a time. Workbox takes an entry out before sending it and puts
 * it back at the head when the send fails; here the head is read, sent, and deleted only once the server has
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
 *              for a multipart upload, rebuilt into FormData when sent), created}
 *   files     {id (the entry's), data: ArrayBuffer}: a photo's bytes, kept apart so counting never reads megabytes
 *   setaside  the entry plus {status, reason, data, at}: a change the server refused (4xx), kept until dismissed
 *   audits    {id, state, gone, home}: the last server state known per audit, every confirmed write merged in
 *   meta      {key, value}: "user" (who is signed in on this phone), "status" (how the last replay ended)
 * A 401 stops the replay with everything kept; another 4xx sets that entry aside and the replay goes on; a network
 * error, a timeout, 408, 429 or a 5xx stops it with the entry still at the head, to be tried again later.
 */
(function (scope) {
  "use strict";

  const DB_NAME = "shopper";
  const DB_VERSION = 1;
  const NAME = "shopper-outbox"; // the Web Lock, the BroadcastChannel and the Background Sync tag
  const JSON_TIMEOUT_MS = 30000;
  const UPLOAD_TIMEOUT_MS = 180000;
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
    const { id, user, audit, kind, target, label, method, url, created } = entry;
    return { id, user, audit, kind, target, label, method, url, created };
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
      oldest: mine.length ? mine[0].created : null,
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

  /* {status, ok, data, retry}; throws on a network error or a timeout. */
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
      const retry = response.type === "opaqueredirect" || status >= 500 || status === 408 || status === 429
        || (response.ok && !readable);
      return { status, ok: response.ok && !retry, data, retry };
    } finally {
      clearTimeout(timer);
    }
  }

  async function head(who) {
    const all = await entries();
    return all.find((entry) => entry.user === who) || null;
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

  /* The server refused it (4xx): set aside with the reason, bytes and all, so nothing typed is lost. */
  function refuse(entry, answer) {
    const reason = (answer.data && answer.data.error) || `The server refused this change (${answer.status}).`;
    return transaction(["outbox", "setaside"], "readwrite", (stores) => {
      stores.outbox.delete(entry.id);
      stores.setaside.put({ ...entry, status: answer.status, reason, data: answer.data, at: Date.now() });
    }).then(() => reason);
  }

  async function finish(result) {
    const status = { ...result, at: Date.now() };
    await setMeta("status", status);
    announce({ type: "status", status });
    return status;
  }

  /* Send this person's entries, oldest first, until none is left or one cannot go now. */
  async function drain() {
    const who = await user();
    for (;;) {
      const entry = await head(who);
      if (!entry) return finish({ state: "saved" });
      if (scope.navigator.onLine === false) return finish({ state: "offline" });
      let answer;
      try {
        answer = await transmit(entry);
      } catch {
        return finish({ state: scope.navigator.onLine === false ? "offline" : "failed" });
      }
      if (answer.status === 401) return finish({ state: "signed-out" });
      if (answer.retry) return finish({ state: "failed" });
      if (answer.ok) {
        await confirm(entry, answer);
        announce({ type: "done", entry: light(entry), status: answer.status, data: answer.data });
      } else {
        const reason = await refuse(entry, answer);
        announce({ type: "set-aside", entry: light(entry), status: answer.status, data: answer.data, reason });
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
  let again = false;

  /**
   * Send what is kept. Resolves with how it ended: {state: "saved" | "offline" | "failed" | "signed-out", at}.
   * A call while a replay runs in this context joins it, and makes it look once more: for entries added meanwhile,
   * and after a pass that found the phone offline (the call may come from the "online" event, which can arrive
   * while that pass is still finishing; without another look the change would wait for the next trigger).
   */
  function replay() {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let result;
      do {
        again = false;
        result = await exclusively(drain);
      } while (again && (result.state === "saved" || result.state === "offline"));
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

  /** Hear every change: {type: "added" | "done" | "set-aside" | "dismissed" | "status", ...}. Returns an off(). */
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
    user,
  });
})(self);
