// Registers the service worker, offers "Add to home screen" where the browser allows it (and explains the iOS steps
// where it does not), and keeps audits for use without a signal.
import { keepStorage } from "./autosave.js";

const offer = document.getElementById("install-offer");
const DISMISSED = "shopper-install-dismissed";
const KEPT_AT = "shopper-kept:"; // + the audit's list of URLs: when it was last kept for offline use
const KEEP_AGAIN_MS = 10 * 60 * 1000;

// Registered once the page has loaded, so the worker's precache finds the page's own files in the HTTP cache.
const loaded = document.readyState === "complete"
  ? Promise.resolve()
  : new Promise((resolve) => window.addEventListener("load", resolve, { once: true }));
const serviceWorkerReady = "serviceWorker" in navigator
  ? loaded.then(() => navigator.serviceWorker.register("/sw.js", { scope: "/" })).then(() => navigator.serviceWorker.ready)
  : Promise.reject(new Error("This browser cannot keep pages offline."));
serviceWorkerReady.catch(() => {});

function standalone() {
  return window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
}

function showOffer({ ios }) {
  if (!offer || standalone() || localStorage.getItem(DISMISSED)) return;
  document.getElementById("install-ios").hidden = !ios;
  document.getElementById("install-button").hidden = ios;
  offer.hidden = false;
}

let deferredPrompt = null;
window.addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault();
  deferredPrompt = event;
  showOffer({ ios: false });
});
window.addEventListener("appinstalled", () => {
  deferredPrompt = null;
  if (offer) offer.hidden = true;
});

document.getElementById("install-button")?.addEventListener("click", async () => {
  if (!deferredPrompt) return;
  deferredPrompt.prompt();
  await deferredPrompt.userChoice;
  deferredPrompt = null;
  offer.hidden = true;
});

document.getElementById("install-dismiss")?.addEventListener("click", () => {
  localStorage.setItem(DISMISSED, "1");
  offer.hidden = true;
});

const ios = /iphone|ipad|ipod/i.test(navigator.userAgent) && !/crios|fxios/i.test(navigator.userAgent);
if (ios) showOffer({ ios: true });

/* Elements with data-keep-offline="<url of a list of URLs>" keep that audit for offline use as soon as the page
   opens (every audit the auditor opens; again at most every ten minutes), and their data-keep-offline-button does
   it on request. When done, the element gets data-kept="all" or "some". */
async function keepOffline(element, { asked }) {
  const listUrl = element.dataset.keepOffline;
  const status = element.querySelector("[data-keep-offline-status]");
  const say = (text) => {
    if (status) status.textContent = text;
  };
  try {
    const registration = await serviceWorkerReady;
    const list = await (await fetch(listUrl, { credentials: "same-origin" })).json();
    navigator.serviceWorker.addEventListener("message", function done(event) {
      if (event.data?.type !== "kept-offline" || event.data.audit !== list.audit) return;
      navigator.serviceWorker.removeEventListener("message", done);
      const all = event.data.kept === event.data.total;
      if (all) localStorage.setItem(KEPT_AT + listUrl, String(Date.now()));
      element.dataset.kept = all ? "all" : "some";
      say(all
        ? "Available offline on this phone."
        : `Kept ${event.data.kept} of ${event.data.total} pages for offline use; try again with a better signal.`);
    });
    registration.active.postMessage({ type: "keep-offline", audit: list.audit, urls: list.urls });
    const persisted = await keepStorage();
    if (persisted === false && asked) {
      say("Kept on this phone, but the browser may clear it if space runs low: open Shopper often, or install it.");
    }
  } catch {
    say(navigator.onLine
      ? "Could not keep this audit offline in this browser."
      : "Offline: pages already kept stay available.");
  }
}

for (const element of document.querySelectorAll("[data-keep-offline]")) {
  const keptAt = Number(localStorage.getItem(KEPT_AT + element.dataset.keepOffline) || 0);
  if (Date.now() - keptAt < KEEP_AGAIN_MS) {
    element.dataset.kept = "all";
    element.querySelector("[data-keep-offline-status]")?.replaceChildren("Available offline on this phone.");
  } else if (navigator.onLine) {
    keepOffline(element, { asked: false });
  }
  element.querySelector("[data-keep-offline-button]")?.addEventListener("click", () =>
    keepOffline(element, { asked: true }));
}
