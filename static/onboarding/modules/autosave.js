// A pause in typing puts the step into the outbox as a draft (action "draft"), which the sender
// sends like any other write: on the server (and filled in on any other device) before the user
// presses anything, or kept on this device until it can be. The tab closing within the pause:
// the draft is put in the outbox and its request also sent with keepalive, which outlives the
// page (the same record and Idempotency-Key: if the sender also sends it, it applies once).

import { client, csrfToken } from "../lib/client.js";
import { newKey } from "../lib/outbox.js";
import { request, requestFor } from "../lib/sender.js";
import { stepFormOf } from "../lib/step-form.js";
import { SUBMITTING_EVENT } from "./wizard-form.js";

const PAUSE_MS = 1000;

class Autosave {
  constructor(page) {
    this.page = page;
    this.timer = null;
    this.lastPut = JSON.stringify({});
  }

  start() {
    const schedule = () => this.schedule();
    this.page.form.addEventListener("input", schedule);
    this.page.form.addEventListener("change", schedule);
    document.addEventListener(SUBMITTING_EVENT, () => { // the submit carries these values itself
      clearTimeout(this.timer);
      this.timer = null;
    });
    window.addEventListener("pagehide", () => this.flush({ leaving: true }));
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), PAUSE_MS);
  }

  async flush({ leaving = false } = {}) {
    if (this.timer === null && leaving) return;
    clearTimeout(this.timer);
    this.timer = null;
    const { page } = this;
    if (!client.available || page.submitting || page.leaving || page.form.hidden) return;
    const answers = page.changed(); // only what the user changed: nothing else can conflict
    const serialised = JSON.stringify(answers);
    if (serialised === this.lastPut || serialised === "{}") return;
    this.lastPut = serialised;
    const write = { step: page.step, action: "draft", answers, base: page.revision, key: newKey() };
    if (leaving) {
      // Sent now, before the page goes; the outbox keeps it too in case this never arrives.
      const sent = requestFor({ ...write, user: client.user }, { urls: client.urls, token: csrfToken() });
      request(sent.url, { method: sent.method, body: sent.body, headers: sent.headers, keepalive: true });
    }
    await client.put(write);
    page.dirty = false;
    if (!leaving) client.kick();
  }
}

export function init(form) {
  new Autosave(stepFormOf(form)).start();
}
