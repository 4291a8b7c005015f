// Registers the service worker, offers "Add to home screen" where the browser allows it (and explains the iOS
// steps where it does not), and asks the browser to keep this site's storage.

const offer = document.getElementById("install-offer");
const DISMISSED = "shopper-install-dismissed";

export const serviceWorkerReady = "serviceWorker" in navigator
  ? navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(() => navigator.serviceWorker.ready)
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

/** Ask the browser not to evict what is kept on this phone. Resolves to true, false (refused) or null (unknown). */
export async function keepStorage() {
  if (!navigator.storage?.persist) return null;
  if (await navigator.storage.persisted()) return true;
  return navigator.storage.persist();
}

/* Pages that carry data-keep-offline="<url of a list of URLs>" are kept for offline use as soon as they open
   (every audit the auditor opens), and a button with data-keep-offline-button does it on request. */
async function keepOffline(listUrl, status) {
  const say = (text) => { if (status) status.textContent = text; };
  try {
    const registration = await serviceWorkerReady;
    const list = await (await fetch(listUrl, { credentials: "same-origin" })).json();
    navigator.serviceWorker.addEventListener("message", function done(event) {
      if (event.data?.type !== "kept-offline" || event.data.audit !== list.audit) return;
      navigator.serviceWorker.removeEventListener("message", done);
      say(event.data.kept === event.data.total
        ? "Available offline on this phone."
        : `Kept ${event.data.kept} of ${event.data.total} pages for offline use; try again with a better signal.`);
      document.dispatchEvent(new CustomEvent("shopper:kept-offline", { detail: event.data }));
    });
    registration.active.postMessage({ type: "keep-offline", audit: list.audit, urls: list.urls });
    const persisted = await keepStorage();
    if (persisted === false) {
      say("Kept on this phone, but the browser may clear it if space runs low: open Shopper often, or install it.");
    }
  } catch (error) {
    say(navigator.onLine ? "Could not keep this audit offline in this browser." : "Offline: pages already kept stay available.");
  }
}

for (const element of document.querySelectorAll("[data-keep-offline]")) {
  if (navigator.onLine) keepOffline(element.dataset.keepOffline, element.querySelector("[data-keep-offline-status]"));
  element.querySelector("[data-keep-offline-button]")?.addEventListener("click", () =>
    keepOffline(element.dataset.keepOffline, element.querySelector("[data-keep-offline-status]")));
}
