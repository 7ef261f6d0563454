// The offline queue's page side, started on the status element (which names the user and the
// URLs): registers the service worker and keeps the device's copies fresh while the server
// answers, and sends what the device kept whenever the server may be back: on every load, on
// "online", when the page becomes visible, when the service worker says it replayed, and while
// anything is kept, by probing with a capped backoff (when the server is down but the network is
// up, navigator.onLine stays true and no "online" event ever comes). Then it shows the outcome:
// on to where the server says, the conflict choice, the login link, or the issues on their step.

import { showIssues } from "../lib/inline-errors.js";
import { showDeviceConflict } from "../lib/offline-conflict.js";
import { KEPT_EVENT, REPLAYED_EVENT, offline } from "../lib/offline.js";
import { COMPLETION } from "../lib/offline-store.js";
import { stepFormOf } from "../lib/step-form.js";
import { setSyncState } from "../lib/sync-state.js";
import { pendingIssues } from "../lib/tab-storage.js";
import { reportEvent } from "../lib/telemetry.js";

const PROBE_FIRST_MS = 1_000;
const PROBE_MAX_MS = 30_000;

class OfflineQueue {
  constructor(element) {
    this.element = element;
    this.form = document.querySelector("form.wizard-form");
    this.isShell = this.form?.hasAttribute("data-offline-shell") ?? false;
    this.probeDelay = PROBE_FIRST_MS;
    this.timer = null;
  }

  get page() {
    return this.form?.dataset.step ? stepFormOf(this.form) : null;
  }

  async start() {
    offline.configure(this.element);
    if (!offline.available) return;
    document.addEventListener(REPLAYED_EVENT, ({ detail }) => this.show(detail));
    document.addEventListener(KEPT_EVENT, () => { // the user is here now: probe soon again
      this.probeDelay = PROBE_FIRST_MS;
      clearTimeout(this.timer);
      this.timer = null;
      this.probeLater();
    });
    window.addEventListener("online", () => this.kick());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.kick();
    });
    navigator.serviceWorker?.addEventListener("message", ({ data }) => {
      if (data?.type === "onboarding-replayed") this.kick(); // Background Sync sent (some of) it
    });
    if (!this.isShell) await this.showKept();
    await this.kick();
    if (!this.isShell) await this.prepare();
  }

  // A step page loaded while its answers wait on the device: show those, not the server's.
  async showKept() {
    const page = this.page;
    const kept = page && (await offline.queuedFor(page.step));
    if (!kept?.answers) return;
    page.fill(kept.answers);
    page.dirty = true; // tab-sync must not replace them with the server's values
  }

  // Register the service worker and keep the device's copies, so the next step works offline.
  async prepare() {
    if (!("serviceWorker" in navigator) || !offline.cacheName) return;
    try {
      const scope = new URL(".", new URL(offline.urls.serviceWorker, location.href)).pathname;
      await navigator.serviceWorker.register(offline.urls.serviceWorker, { type: "module", scope });
      await navigator.serviceWorker.ready;
      if (await offline.keepCopies()) document.body.dataset.offlineReady = "true";
    } catch (error) {
      console.warn("onboarding: the wizard will not work offline in this browser", error);
    }
  }

  // The shell always asks the server (if it answers, the real page replaces the shell).
  kick() {
    clearTimeout(this.timer);
    this.timer = null;
    return offline.replayNow({ force: this.isShell });
  }

  // While something waits: try again after 1 s, 2 s, 4 s, ... at most every 30 s.
  probeLater() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, this.probeDelay);
    this.probeDelay = Math.min(this.probeDelay * 2, PROBE_MAX_MS);
  }

  leaveFor(url) {
    const page = this.page;
    if (page) page.leaving = true;
    window.location.assign(url);
  }

  async show(outcome) {
    const page = this.page;
    if (outcome.state !== "unreachable" && outcome.state !== "busy") this.probeDelay = PROBE_FIRST_MS;
    switch (outcome.state) {
      case "done": {
        const progress = outcome.progress;
        if (!progress) return this.isShell ? this.leaveFor(location.href) : undefined; // the server is back
        const target = progress.state === "completed" ? offline.urls.dashboard
          : offline.stepUrl(progress.current_step ?? progress.steps.at(-1).key);
        if (this.isShell || (outcome.moved && new URL(target, location.href).pathname !== location.pathname)) {
          return this.leaveFor(target);
        }
        if (page) page.revision = progress.revision; // only drafts went, or this is where the server says
        setSyncState("saved", outcome.moved ? "" : "draft");
        return undefined;
      }
      case "completed":
        return this.leaveFor(offline.urls.dashboard);
      case "unreachable":
      case "busy":
        if (this.isShell || (await offline.hasQueued())) {
          this.waited = true;
          const finished = Boolean(await offline.queuedFor(COMPLETION));
          if (!page?.submitting) setSyncState("queued", finished ? "finish" : "");
          this.probeLater();
        }
        return undefined;
      case "auth": {
        setSyncState("auth-required", "queued");
        const login = this.element.querySelector("[data-sync-login]");
        if (login) login.href = `${offline.urls.login}?next=${encodeURIComponent(location.pathname)}`;
        return undefined;
      }
      case "conflict": {
        const heading = showDeviceConflict(outcome.kept, await offline.manifest(), (saved) => {
          if (saved?.answers && page?.step === saved.step) page.fill(saved.answers);
          setSyncState("saving");
          this.kick();
        });
        setSyncState("conflict", "queued");
        reportEvent({ url: () => offline.urls.events, step: outcome.kept.step, form: null }, "conflict_shown");
        heading.focus();
        return undefined;
      }
      case "invalid":
        return this.showInvalid(outcome);
      case "empty": // the service worker sent what this page was waiting for: the server's page now
        return this.waited ? this.leaveFor(location.href) : undefined;
      default:
        return undefined; // another user's queue: nothing to say
    }
  }

  // The issues of a kept answer wait on their step: shown here, or there after going to it.
  showInvalid({ issues, blockingStep }) {
    const page = this.page;
    const step = blockingStep ?? page?.step;
    if (page && step === page.step) {
      showIssues(page, issues.filter((item) => item.step === step || item.step === null)).focus();
      setSyncState("failed", "invalid");
      return;
    }
    pendingIssues.keep(step, issues.filter((item) => item.step === step));
    this.leaveFor(offline.stepUrl(step));
  }
}

export function init(element) {
  const queue = new OfflineQueue(element);
  element.offlineQueue = queue;
  queue.start().catch((error) => console.error("onboarding: the offline queue did not start", error));
}
