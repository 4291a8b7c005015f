/* Shopper's service worker. It keeps the app shell and the audits kept for offline use, and replays the outbox
   (static/js/outbox.js, the very code pages run) on Background Sync, so changes made offline go even after every
   page is closed.

   A plain file, served at /sw.js by shopper/pwa/views.py after a few lines the server writes from what only it
   knows: VERSION (the shell's version), SHELL_URLS (the files to keep, the offline page among them), OFFLINE_URL,
   and the importScripts() of the outbox's versioned URL, which defines ShopperOutbox. Those lines begin with
   "use strict", which holds for this file too. */
/* global VERSION, SHELL_URLS, OFFLINE_URL, ShopperOutbox */

const SHELL = `shopper-shell-${VERSION}`;
const PAGES = `shopper-pages-${VERSION}`;
const SAVED_PAGE = /^\/o\/[^/]+\/(audits\/\d+(\/(walk\/[^/]+|review))?|api\/audits\/\d+|)$/;
const PHOTO = /^\/o\/[^/]+\/audits\/\d+\/photos\/[^/]+\/thumb\.jpg$/;
/* The shell is fetched through the HTTP cache: the files the page has just loaded under this version are taken from
   there (they are immutable under their `v`), so a first visit downloads nothing twice. */
const SHELL_REQUEST = { credentials: "same-origin" };
const PREFETCH = { credentials: "same-origin", headers: { Purpose: "prefetch" } };

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL)
      // the offline page without cookies: it is the same for everyone, and belongs to no one signed in
      .then((cache) => cache.addAll(SHELL_URLS.map((url) => new Request(url,
        url === OFFLINE_URL ? { cache: "no-cache", credentials: "omit" } : SHELL_REQUEST))))
      .then(() => self.skipWaiting()),
  );
});

/* A new version takes over: audit pages saved by the old one are fetched again into the new cache, then every
   cache of another version is deleted, so no page mixes two versions. The outbox lives in IndexedDB, which no
   version ever clears: what waits there is sent by the new version (a sync is asked for at once). */
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    const saved = new Set();
    for (const name of names) {
      if (name.startsWith("shopper-pages-") && name !== PAGES) {
        for (const request of await (await caches.open(name)).keys()) saved.add(request.url);
      }
    }
    if (saved.size) {
      const pages = await caches.open(PAGES);
      await Promise.all([...saved].map((url) => fetch(url, PREFETCH)
        .then((response) => (response.ok && !response.redirected ? pages.put(url, response) : null))
        .catch(() => null)));
    }
    await Promise.all(names
      .filter((name) => name.startsWith("shopper-") && name !== SHELL && name !== PAGES)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
    if (self.registration.sync) await self.registration.sync.register(ShopperOutbox.SYNC_TAG).catch(() => null);
  })());
});

/* The shell cache holds one version only, so the `v` query may be ignored (a module imported by a file served
   outside the current version comes without it). */
async function fromShell(request) {
  const cached = await caches.match(request, { cacheName: SHELL, ignoreSearch: true });
  return cached || fetch(request);
}

/* The network first, the saved copy when there is no network. A request that asks for no cache (the page reading
   an audit's state fresh) never gets the saved copy: a failure is an honest failure. */
async function networkFirst(request, keep) {
  try {
    const response = await fetch(request);
    if (keep && response.ok && !response.redirected) {
      const pages = await caches.open(PAGES);
      await pages.put(request.url, response.clone());
    }
    return response;
  } catch (error) {
    if (request.cache === "no-store") throw error;
    const cached = await caches.match(request.url, { cacheName: PAGES });
    if (cached) return cached;
    if (request.mode === "navigate") return caches.match(OFFLINE_URL, { cacheName: SHELL });
    throw error;
  }
}

async function cacheFirst(request) {
  const pages = await caches.open(PAGES);
  const cached = await pages.match(request.url);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await pages.put(request.url, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(fromShell(request));
  } else if (PHOTO.test(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate" || SAVED_PAGE.test(url.pathname)) {
    event.respondWith(networkFirst(request, SAVED_PAGE.test(url.pathname)));
  }
});

/* Background Sync (Chrome, Android): send what waits in the outbox. A replay stopped by the network fails the
   event, so the browser tries again later; signed out, it waits for the person to sign in, when a page replays. */
self.addEventListener("sync", (event) => {
  if (event.tag !== ShopperOutbox.SYNC_TAG) return;
  event.waitUntil(ShopperOutbox.replay().then((result) => {
    if (result.state === "failed" || result.state === "offline") throw new Error("The server could not be reached.");
  }));
});

/* The page asks for an audit to be kept for offline use: every page of its walk, its data and its photos. The
   `Purpose: prefetch` header tells the server this is not the auditor opening a page. */
self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "keep-offline") {
    event.waitUntil((async () => {
      const pages = await caches.open(PAGES);
      let kept = 0;
      for (const url of message.urls) {
        try {
          const response = await fetch(url, PREFETCH);
          if (response.ok && !response.redirected) {
            await pages.put(new URL(url, self.location.origin).href, response);
            kept += 1;
          }
        } catch { /* offline now: the pages already kept stay */ }
      }
      const total = message.urls.length;
      if (event.source) event.source.postMessage({ type: "kept-offline", audit: message.audit, kept, total });
    })());
  } else if (message.type === "forget-all") {
    event.waitUntil(caches.keys().then((names) => Promise.all(
      names.filter((name) => name.startsWith("shopper-pages-")).map((name) => caches.delete(name)))));
  }
});
