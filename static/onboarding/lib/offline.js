// The page's side of the offline wizard, shared by the modules: who the user is, the device's
// copies (page shell, manifest, progress) in the Cache API, and the queue of writes kept while the
// server cannot be reached. The offline-queue module configures it from the status element; until
// then (or without IndexedDB, or on a page without a user) ``offline.available`` is false and the
// wizard behaves as it did without an offline mode.

import { COMPLETION, keep, queuedCount, record } from "./offline-store.js";
import { csrfToken } from "./save-client.js";
import { replay } from "./offline-replay.js";

export const SYNC_TAG = "onboarding-offline-replay";
export const REPLAYED_EVENT = "onboarding:replayed"; // detail: the replay's outcome
export const KEPT_EVENT = "onboarding:kept"; // a write was kept on the device

class Offline {
  constructor() {
    this.available = false;
    this.running = null;
  }

  configure(element) {
    const data = element.dataset;
    this.user = data.userId;
    this.version = data.offlineVersion;
    this.urls = {
      serviceWorker: data.serviceWorkerUrl, shell: data.shellUrl, manifest: data.manifestUrl,
      progress: data.progressUrl, complete: data.completeUrl, events: data.eventsUrl,
      step: data.stepUrl, dashboard: data.dashboardUrl, login: data.loginUrl,
    };
    this.available = Boolean(this.user && window.indexedDB);
  }

  get cacheName() {
    return "caches" in window && this.version ? `onboarding-pages-${this.version}` : null;
  }

  stepUrl(step) {
    return this.urls.step.replace("__step__", encodeURIComponent(step));
  }

  // The step a wizard URL names (the shell is served for any of them), or null.
  stepOfPath(path) {
    const [before, after] = this.urls.step.split("__step__");
    if (!path.startsWith(before) || !path.endsWith(after)) return null;
    const step = decodeURIComponent(path.slice(before.length, path.length - after.length));
    return /^[a-z0-9-]+$/.test(step) ? step : null;
  }

  async copy(url) {
    if (!this.cacheName) return null;
    try {
      const response = await caches.match(url);
      return response ? await response.json() : null;
    } catch {
      return null;
    }
  }

  manifest() {
    return this.copy(this.urls.manifest);
  }

  progress() {
    return this.copy(this.urls.progress);
  }

  // Refresh the device's copies while the server answers: the shell, the manifest, the progress.
  async keepCopies() {
    if (!this.cacheName || !this.available) return false;
    const cache = await caches.open(this.cacheName);
    const urls = [this.urls.shell, this.urls.manifest, this.urls.progress];
    const responses = await Promise.all(urls.map((url) => fetch(url, { credentials: "same-origin", cache: "no-cache" }).catch(() => null)));
    if (!responses.every((response) => response?.ok && !response.redirected)) return false;
    await Promise.all(urls.map((url, i) => cache.put(url, responses[i])));
    return true;
  }

  // Whether a wizard page can be shown without the server: a service worker controls this page
  // and the shell is kept. Without them an offline navigation would end on the browser's error page.
  async canWorkOffline() {
    if (!navigator.serviceWorker?.controller || !this.cacheName) return false;
    try {
      return Boolean(await caches.match(this.urls.shell)) && Boolean(await this.manifest());
    } catch {
      return false;
    }
  }

  async stepKeys() {
    return (await this.manifest())?.steps.map((step) => step.key) ?? [];
  }

  async neighbour(step, offset) {
    const keys = await this.stepKeys();
    const index = keys.indexOf(step);
    return index < 0 ? null : keys[index + offset] ?? null;
  }

  async hasQueued() {
    if (!this.available) return false;
    try {
      return (await queuedCount(this.user)) > 0;
    } catch {
      return false;
    }
  }

  queuedFor(step) {
    return this.available ? record(this.user, step).catch(() => null) : Promise.resolve(null);
  }

  // Keep a write of ``step`` on the device (action save, skip or draft; ``order``: the step's
  // place in the wizard); a Finish keeps the completion too.
  async keep({ step, order, action, answers, revision, finish = false }) {
    const place = Number.isInteger(order) ? order : (await this.stepKeys()).indexOf(step);
    await keep({ user: this.user, step, order: place < 0 ? 999 : place, action, answers, revision });
    if (finish) await keep({ user: this.user, step: COMPLETION, action: "complete", revision });
    this.kept();
  }

  // Keep only the completion (the last step is saved; Finish could not reach the server).
  async keepCompletion({ revision }) {
    await keep({ user: this.user, step: COMPLETION, action: "complete", revision });
    this.kept();
  }

  // Ask for persistent storage and a Background Sync where the browser has them; tell the modules.
  kept() {
    navigator.storage?.persist?.().catch(() => {});
    this.requestSync();
    document.dispatchEvent(new CustomEvent(KEPT_EVENT));
  }

  async requestSync() {
    try {
      const registration = await navigator.serviceWorker?.getRegistration(this.urls.serviceWorker);
      await registration?.sync?.register(SYNC_TAG);
    } catch { /* no Background Sync: the pages replay on load, online, visibility and by probing */ }
  }

  // Replay the queue now (one run at a time per page); announce the outcome to the modules.
  replayNow({ force = false } = {}) {
    if (!this.available) return Promise.resolve({ state: "empty", replayed: 0 });
    if (this.running) return this.running;
    this.running = replay(this.user, {
      urls: this.urls, force, cacheName: this.cacheName, csrf: async () => csrfToken(),
    }).catch((error) => {
      console.error("onboarding: replaying the offline queue failed", error);
      return { state: "unreachable", replayed: 0 };
    }).then((outcome) => {
      this.running = null;
      document.dispatchEvent(new CustomEvent(REPLAYED_EVENT, { detail: outcome }));
      return outcome;
    });
    return this.running;
  }
}

export const offline = new Offline();
