/* A page that waits for something made in the background (a report's PDF, a ZIP of reports).
 *
 * Each [data-wait] element names a JSON status URL; the page asks it every few seconds, a little less often the
 * longer it takes, and says in words how it is going. When the answer is "ready" the download starts by itself
 * (and a button offers it again); "failed" shows why. It stops asking when the page is hidden and asks again at
 * once when it is shown, so a phone in a pocket costs nothing.
 */
const FIRST_DELAY_MS = 1500;
const LONGEST_DELAY_MS = 10000;

function watch(box) {
  const text = box.querySelector("[data-wait-text]");
  const title = box.querySelector("[data-wait-title]");
  const ready = box.querySelector("[data-wait-ready]");
  let delay = FIRST_DELAY_MS;
  let timer = null;
  let done = box.dataset.state !== "preparing";

  function show(state, message) {
    box.dataset.state = state;
    if (state === "ready") {
      title.textContent = "Ready";
      text.textContent = "The download has started. If it did not, use the button below.";
      ready.hidden = false;
      done = true;
      window.location.assign(box.dataset.downloadUrl);
    } else if (state !== "preparing") {
      title.textContent = state === "failed" ? "It could not be made" : "It cannot be prepared now";
      text.textContent = message || "Something went wrong on our side. Please try again in a minute.";
      done = true;
    }
  }

  async function ask() {
    timer = null;
    if (done || document.hidden) return;
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const answer = await response.json();
        show(answer.state, answer.message);
      }
    } catch {
      // no connection for a moment: ask again later, the work goes on on the server
    }
    if (!done) {
      timer = window.setTimeout(ask, delay);
      delay = Math.min(LONGEST_DELAY_MS, Math.round(delay * 1.4));
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !done && timer === null) ask();
  });
  if (!done) timer = window.setTimeout(ask, delay);
}

document.querySelectorAll("[data-wait]").forEach(watch);
