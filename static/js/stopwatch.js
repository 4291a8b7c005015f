// A stopwatch for timer items. While it runs, its start time sits in localStorage (one key per audit and item), and
// the time shown is always computed from Date.now(): it keeps counting while the screen sleeps, the app is in the
// background, or the page is reloaded. Start carries on from the time already recorded; Stop hands over whole seconds;
// Reset starts again from zero.
import { clock } from "./rules.js";

const MAX_SECONDS = 86400;

function load(key) {
  try {
    const saved = JSON.parse(localStorage.getItem(key));
    return saved && Number.isFinite(saved.startedAt) && Number.isFinite(saved.base) ? saved : null;
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value) localStorage.setItem(key, JSON.stringify(value));
    else localStorage.removeItem(key);
  } catch {
    // private browsing or a full quota: the stopwatch still runs while the page stays open
  }
}

export class Stopwatch {
  /**
   * @param {HTMLElement} root  the .stopwatch element of the timer control
   * @param {{storageKey: string, seconds: () => number|null, onStop: (s: number) => void, onReset: () => void}} options
   */
  constructor(root, { storageKey, seconds, onStop, onReset }) {
    this.root = root;
    this.key = storageKey;
    this.seconds = seconds;
    this.onStop = onStop;
    this.onReset = onReset;
    this.face = root.querySelector(".stopwatch-face");
    this.toggle = root.querySelector("[data-action=start]");
    this.resetButton = root.querySelector("[data-action=reset]");
    this.face.setAttribute("aria-live", "off"); // a ticking clock must not chatter in a screen reader
    this.running = load(this.key);
    this.timer = null;
    this.toggle.addEventListener("click", () => (this.running ? this.stop() : this.start()));
    this.resetButton.addEventListener("click", () => this.reset());
    document.addEventListener("visibilitychange", () => this.render());
    this.render();
  }

  elapsed() {
    if (!this.running) return this.seconds() ?? 0;
    return Math.min(MAX_SECONDS, this.running.base + Math.max(0, Date.now() - this.running.startedAt) / 1000);
  }

  start() {
    this.running = { startedAt: Date.now(), base: this.seconds() ?? 0 };
    store(this.key, this.running);
    this.render();
  }

  stop() {
    const seconds = Math.min(MAX_SECONDS, Math.round(this.elapsed()));
    this.running = null;
    store(this.key, null);
    this.onStop(seconds);
    this.render();
  }

  reset() {
    this.running = null;
    store(this.key, null);
    this.onReset();
    this.render();
  }

  /** Show the current time; called again whenever the saved value changes. */
  render() {
    const running = Boolean(this.running);
    this.face.textContent = clock(this.elapsed());
    this.root.classList.toggle("running", running);
    this.toggle.textContent = running ? "Stop" : "Start";
    this.toggle.setAttribute("aria-pressed", String(running));
    if (running && !this.timer) this.timer = setInterval(() => this.render(), 250);
    if (!running && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
