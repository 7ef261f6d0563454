// The page's side of the one save path: every write goes into the device outbox (outbox.js) and
// one sender (sender.js) drains it in order. "Online" is simply the outbox draining at once. The
// status element is derived from what the outbox holds and how its front fared (``deriveState``),
// never set by hand, so while the device holds a write it never says idle or saved.
//
// The sender runs on every page load, on "online", when the page becomes visible or focused, when
// the service worker or another tab says something changed, and on a timer while anything is
// kept: exponential backoff with jitter after each failure, at most 2 s apart (Retry-After
// honoured), so what was kept reaches the server within seconds of it being reachable again.

import { keepProgress, lastProgress, pending, put, readDevice, writeDevice } from "./outbox.js";
import { QUEUED_AFTER, drain, retryDelay } from "./sender.js";
import { setSyncState } from "./sync-state.js";

export const DRAINED_EVENT = "onboarding:drained"; // detail: the sender's outcome
export const ACCEPTED_EVENT = "onboarding:accepted"; // detail: {record, progress}: one write accepted
const CHANNEL = "onboarding-outbox";
const OFFLINE_RECHECK_MS = 5_000; // navigator.onLine may be wrong: try now and then anyway
// A tab logging out says "logged-out" within about 8 s (its cleanup and request time limits);
// if it never does (closed meanwhile), what this page holds is kept again anyway.
const LOGOUT_HOLD_MS = 10_000;

// The status as a function of the outbox and the sender: [state, reason].
// ``records``: the user's outbox; ``sending``: a request is in flight; ``auth``: the last answer said
// the login was lost; ``online``: navigator.onLine; ``accepted``: what this page last had accepted
// (null, "draft" or "save"); ``notice``: another tab saved over unsaved edits here.
export function deriveState({ records, sending = false, auth = false, online = true, accepted = null, notice = false }) {
  const [front] = records;
  if (!front) {
    if (notice) return ["conflict", ""];
    if (accepted) return ["saved", accepted === "draft" ? "draft" : ""];
    return ["idle", ""];
  }
  if (front.conflict) return ["conflict", "queued"];
  if (front.issues) return ["failed", front.refused ? "refused" : "invalid"];
  if (auth) return ["auth-required", "queued"];
  const finish = records.some((record) => record.action === "complete") ? "finish" : "";
  const failures = front.failures ?? 0;
  if (!online || front.queued || failures >= QUEUED_AFTER) return ["queued", finish];
  if (failures > 0) return ["retrying", ""];
  return [sending || records.length ? "saving" : "idle", ""];
}

// Who the server last said is signed in (its ``onboarding_user`` cookie), or null.
export function signedInUser() {
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("onboarding_user="));
  return cookie ? decodeURIComponent(cookie.slice("onboarding_user=".length)) : null;
}

export function csrfToken() {
  // The cookie is the current token even after a login in another tab rotated it.
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
}

class Client {
  constructor() {
    this.available = false;
    this.running = null;
    this.again = false;
    this.timer = null;
    this.sending = false;
    this.auth = false;
    this.accepted = null;
    this.notice = false;
  }

  configure(element) {
    const data = element.dataset;
    this.user = data.userId;
    this.version = data.offlineVersion;
    this.timeoutMs = Number(data.timeoutMs) || 10_000;
    this.urls = {
      serviceWorker: data.serviceWorkerUrl, shell: data.shellUrl, progress: data.progressUrl,
      complete: data.completeUrl, events: data.eventsUrl, step: data.stepUrl,
      dashboard: data.dashboardUrl, login: data.loginUrl,
    };
    this.available = Boolean(this.user && window.indexedDB);
    if (!this.available) return;
    window.addEventListener("online", () => this.kick());
    window.addEventListener("offline", () => this.showState());
    window.addEventListener("focus", () => this.kick());
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && this.kick());
    navigator.serviceWorker?.addEventListener("message", ({ data: message }) => message?.type === "onboarding-drained" && this.kick());
    if ("BroadcastChannel" in window) {
      this.channel = new BroadcastChannel(CHANNEL);
      this.channel.addEventListener("message", ({ data: message }) => {
        if (message?.type === "logging-out") this.holdForLogout(message.user, message.records);
        else if (message?.type === "logged-out") this.keepAfterLogout(message.user);
        else this.showState();
      });
    }
  }

  get cacheName() {
    return "caches" in window && this.version ? `onboarding-pages-${this.version}` : null;
  }

  // Where a copy of the page shell is kept for this user (the service worker serves it to no one else).
  get shellKey() {
    return `${this.urls.shell}?user=${encodeURIComponent(this.user)}`;
  }

  stepUrl(step) {
    return this.urls.step.replace("__step__", encodeURIComponent(step));
  }

  // Where the server says the user goes: the dashboard, or its current step.
  placeOf(progress) {
    if (progress.state === "completed") return this.urls.dashboard;
    return this.stepUrl(progress.current_step ?? progress.steps.at(-1).key);
  }

  // The user's writes not accepted yet: the outbox, or while another tab logs out (and empties
  // it), what this page held when that began (see ``holdForLogout``).
  records() {
    if (this.held) return Promise.resolve(this.held);
    return this.available ? pending(this.user).catch(() => []) : Promise.resolve([]);
  }

  lastProgress() {
    return this.available ? lastProgress(this.user).catch(() => null) : Promise.resolve(null);
  }

  keepProgress(progress) {
    if (this.available && progress) keepProgress(this.user, progress).catch(() => {});
  }

  // Put a write into the outbox and start sending; resolve to the stored record.
  async put(write) {
    // One after another, in the order the page made them (a draft then the save of its step).
    const putting = (this.putting ?? Promise.resolve()).then(() => put(this.user, write));
    this.putting = putting.catch(() => {});
    const record = await putting;
    this.accepted = null;
    this.channel?.postMessage({ type: "put" });
    await this.showState();
    return record;
  }

  async requestBackgroundSync() {
    try {
      const registration = await navigator.serviceWorker?.getRegistration(this.urls.serviceWorker);
      await registration?.sync?.register(CHANNEL);
    } catch { /* no Background Sync: the pages send by themselves */ }
  }

  // Drain now (one run at a time; a kick during a run runs once more after it). Resolve to the
  // outcome of a run that started after this call.
  kick() {
    if (!this.available) return Promise.resolve({ state: "empty", sent: 0 });
    clearTimeout(this.timer);
    this.timer = null;
    if (this.running) {
      this.again = true;
      return this.running.then(() => this.next);
    }
    this.running = this.run();
    return this.running;
  }

  async run() {
    let outcome;
    try {
      outcome = await drain(this.user, {
        urls: this.urls, csrf: async () => csrfToken(), signedIn: async () => signedInUser(), timeoutMs: this.timeoutMs,
        onSending: () => {
          this.sending = true;
          this.showState();
        },
        onAccepted: (accepted) => {
          this.held &&= this.held.filter((record) => record.key !== accepted.record.key);
          this.auth = false;
          this.accepted = accepted.record.action === "draft" ? "draft" : "save";
          this.channel?.postMessage({ type: "accepted", progress: accepted.progress });
          document.dispatchEvent(new CustomEvent(ACCEPTED_EVENT, { detail: accepted }));
        },
      });
    } catch (error) {
      console.error("onboarding: sending the outbox failed", error);
      outcome = { state: "unreachable", sent: 0, retryAfter: null, record: null };
    }
    this.sending = false;
    this.auth = outcome.state === "auth";
    await this.showState();
    document.dispatchEvent(new CustomEvent(DRAINED_EVENT, { detail: outcome }));
    this.schedule(outcome);
    this.running = null;
    if (this.again) {
      this.again = false;
      this.next = this.kick();
    } else {
      this.next = outcome;
    }
    return outcome;
  }

  schedule(outcome) {
    clearTimeout(this.timer);
    let wait = null;
    if (outcome.state === "unreachable") {
      wait = navigator.onLine === false ? OFFLINE_RECHECK_MS : retryDelay(outcome.record?.failures ?? 1, outcome.retryAfter);
      if ((outcome.record?.failures ?? 0) >= QUEUED_AFTER) {
        // Kept on the device: ask the browser to keep it (and, where it can, to send it without the page).
        navigator.storage?.persist?.().catch(() => {});
        this.requestBackgroundSync();
      }
    } else if (outcome.state === "busy") {
      wait = 300; // another tab or the service worker is sending: look again soon
    }
    if (wait !== null) this.timer = setTimeout(() => this.kick(), wait);
  }

  async showState() {
    if (!this.available) return;
    const asked = (this.shows = (this.shows ?? 0) + 1);
    const records = await this.records();
    // A call made meanwhile read the outbox later: only the newest reading is shown (an older
    // one may predate a write, or a logout in another tab emptying the outbox).
    if (asked !== this.shows) return;
    this.shown = records; // what this page knows the device holds (see ``keepAfterLogout``)
    const [state, reason] = deriveState({
      records, sending: this.sending, auth: this.auth, online: navigator.onLine !== false,
      accepted: this.accepted, notice: this.notice,
    });
    setSyncState(state, reason);
  }

  // Another tab of this user is logging out: it read the user's outbox (``records``) and is now
  // deleting it, and the server's answer will clear the site's storage again. Until it says
  // "logged-out", this page shows and keeps in memory what the outbox held (and what this page
  // last read of it), never an emptied outbox as if nothing were waiting.
  holdForLogout(user, records) {
    if (this.stopped || String(user) !== String(this.user)) return;
    const held = new Map();
    for (const record of [...(records ?? []), ...(this.held ?? this.shown ?? [])]) {
      if (!held.has(record.key)) held.set(record.key, record);
    }
    this.held = [...held.values()];
    this.auth = true;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.keepAfterLogout(user), LOGOUT_HOLD_MS);
    this.showState();
  }

  // Another tab of this user logged out, which deleted what the device kept. What this page
  // still shows and the server never accepted stays in front of the user: it is kept again, and
  // sent once the same user logs in again (the page asks for the login).
  async keepAfterLogout(user) {
    if (this.stopped || String(user) !== String(this.user)) return;
    clearTimeout(this.holdTimer);
    const kept = this.held ?? this.shown ?? [];
    if (kept.length) {
      const present = new Set((await pending(this.user).catch(() => [])).map((record) => record.key));
      for (const record of kept) {
        if (present.has(record.key)) continue; // another tab of this user kept it again already
        const write = { step: record.step, action: record.action, answers: record.answers, base: record.base, key: record.key };
        await put(this.user, write).catch(() => {});
      }
      this.auth = true;
    }
    this.held = null; // only now: the outbox holds it all again
    await this.showState();
  }

  // This page is logging out: it sends nothing more and keeps nothing again.
  stop() {
    this.stopped = true;
    this.available = false;
    clearTimeout(this.timer);
  }

  // Whose pages this browser shows: another user's cached pages are deleted, never shown.
  async claimDevice() {
    const previous = await readDevice("user").catch(() => null);
    if (previous && previous.id !== String(this.user) && "caches" in window) {
      for (const name of await caches.keys()) {
        if (!name.startsWith("onboarding-pages-")) continue;
        const cache = await caches.open(name);
        for (const request of await cache.keys()) {
          if (!new URL(request.url).search.includes(`user=${encodeURIComponent(this.user)}`)) await cache.delete(request);
        }
      }
    }
    await writeDevice("user", { id: String(this.user) }).catch(() => {});
  }
}

export const client = new Client();
