// The sync indicator at the top of every page. It says plainly whether every change has reached the server, how
// many wait on this phone and since when, what the server refused (with what was entered, and a way to dismiss
// it), and whether the browser promised to keep this site's data. It offers "Sync now", asks before signing out
// while changes wait, warns before leaving an audit's overview, and lists on the offline page the audits kept here.
import { dismiss, guardExit, leave, onStatus, queued, retry, storageKept } from "./autosave.js";

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
      return [waiting, `The server did not answer.${seconds ? ` Trying again in ${seconds} s.` : ""}`];
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

  function renderRefused(entries) {
    refusedBox.hidden = !entries.length;
    if (!entries.length) return;
    const title = refusedBox.querySelector("[data-sync-refused-title]");
    title.textContent = `${plural(entries.length, "change")} could not be saved`;
    const list = refusedBox.querySelector("[data-sync-refused-list]");
    const shown = entries.map((entry) => String(entry.id)).join();
    if (list.dataset.shown === shown) return;
    list.dataset.shown = shown;
    list.replaceChildren(...entries.map((entry) => {
      const item = document.createElement("li");
      const what = document.createElement("strong");
      what.textContent = entry.label || "A change";
      item.append(what, `: ${entry.reason}`);
      const said = entered(entry);
      if (said) {
        const copy = document.createElement("p");
        copy.className = "sync-entered";
        copy.textContent = `What you entered: ${said}`;
        item.append(copy);
      }
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.textContent = "Dismiss";
      button.addEventListener("click", () => dismiss(entry.id));
      item.append(button);
      return item;
    }));
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
