// Every edit is put into the outbox at once as a draft (action "draft", the fields changed on
// this page), so what was typed survives a reload, a crash or a browser restart; after a pause in
// typing the sender sends it like any other write: on the server (and filled in on any other
// device) before the user presses anything, or kept on this device until it can be.

import { client, csrfToken } from "../lib/client.js";
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
    const edited = () => this.edited();
    this.page.form.addEventListener("input", edited);
    this.page.form.addEventListener("change", edited);
    document.addEventListener(SUBMITTING_EVENT, () => { // the submit carries these values itself
      clearTimeout(this.timer);
      this.timer = null;
    });
    window.addEventListener("pagehide", () => this.sendOnLeave());
  }

  // Every edit goes into the outbox at once (it survives a reload or a crash); it is sent after
  // a pause in typing, so the server gets one draft, not one per keystroke.
  edited() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      client.kick();
    }, PAUSE_MS);
    this.keeping = this.keep().catch((error) => console.error("onboarding: keeping a draft failed", error));
  }

  async keep() {
    const { page } = this;
    if (!client.available || page.submitting || page.leaving || page.form.hidden) return null;
    const answers = page.changed(); // only what the user changed: nothing else can conflict
    const serialised = JSON.stringify(answers);
    if (serialised === this.lastPut || serialised === "{}") return null;
    this.lastPut = serialised;
    this.record = await client.put({ step: page.step, action: "draft", answers, base: page.revision });
    return this.record;
  }

  // The tab closes within the pause: the kept draft is also sent now, with keepalive, which
  // outlives the page (the same record and Idempotency-Key: if the sender sends it too, it applies once).
  sendOnLeave() {
    if (this.timer === null || !this.record || this.page.submitting || this.page.leaving) return;
    const sent = requestFor(this.record, { urls: client.urls, token: csrfToken() });
    request(sent.url, { method: sent.method, body: sent.body, headers: sent.headers, keepalive: true });
  }
}

export function init(form) {
  new Autosave(stepFormOf(form)).start();
}
