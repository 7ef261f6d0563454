// Saves the step as a draft (action "draft") after a pause in typing, so what was typed is on
// the server (and filled in on any other device) before the user presses anything. Never more
// than one draft request in flight per tab; typing meanwhile sends one more afterwards.

import { offline } from "../lib/offline.js";
import { stepFormOf } from "../lib/step-form.js";
import { SUBMITTING_EVENT, reportFailure, sendWrite, showConflict } from "../lib/step-writer.js";
import { setSyncState } from "../lib/sync-state.js";
import { typedValues } from "../lib/tab-storage.js";
import { csrfToken } from "../lib/save-client.js";

const PAUSE_MS = 1000;

class Autosave {
  constructor(page) {
    this.page = page;
    this.timer = null;
    this.inFlight = false;
    this.again = false;
    this.lastSent = JSON.stringify(page.values());
  }

  start() {
    const schedule = () => this.schedule();
    this.page.form.addEventListener("input", schedule);
    this.page.form.addEventListener("change", schedule);
    // A save sends these values itself; after a failed one, the next edit schedules a draft again.
    document.addEventListener(SUBMITTING_EVENT, () => {
      clearTimeout(this.timer);
      this.timer = null;
    });
    // Closing the tab within the pause: send what is pending; keepalive outlives the page.
    window.addEventListener("pagehide", () => this.flushOnLeave());
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), PAUSE_MS);
  }

  async flush() {
    this.timer = null;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const values = this.page.values();
    const serialised = JSON.stringify(values);
    if (this.page.submitting || this.page.leaving || serialised === this.lastSent) return;
    this.inFlight = true;
    try {
      setSyncState("saving");
      // Writes waiting on the device go first: this draft waits behind them.
      const answer = await offline.hasQueued() ? { outcome: "unreachable" } : await sendWrite(this.page, {
        url: this.page.url("progress"), body: { step: this.page.step, action: "draft", answers: values },
      });
      if (answer.outcome === "unreachable" && offline.available && !this.page.submitting && !this.page.leaving) {
        await offline.keep({
          step: this.page.step, order: this.page.index, action: "draft", answers: values, revision: this.page.revision,
        });
        this.lastSent = serialised;
        setSyncState("queued");
        offline.replayNow(); // the server may be back already: the offline-queue module says how it went
        return;
      }
      await this.report(answer, serialised);
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  async report(answer, serialised) {
    if (this.page.submitting || this.page.leaving) return; // Continue/Finish took over and reports for itself
    if (answer.outcome === "ok") {
      this.lastSent = serialised;
      if (JSON.stringify(this.page.values()) === serialised) typedValues.forget(this.page.step);
      // The conflict notice stays the news until a save.
      if (this.page.inConflict) setSyncState("conflict");
      else setSyncState("saved", "draft");
    } else if (answer.outcome === "conflict" && answer.body?.code === "revision_conflict") {
      await showConflict(this.page, { since: answer.sentRevision, currentRevision: answer.body.current.revision });
    } else {
      reportFailure(answer);
    }
  }

  flushOnLeave() {
    if (this.timer === null || this.page.submitting || this.page.leaving) return;
    clearTimeout(this.timer);
    const body = { step: this.page.step, action: "draft", answers: this.page.values(), revision: this.page.revision };
    fetch(this.page.url("progress"), {
      method: "PATCH", credentials: "same-origin", keepalive: true, body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(this.page.form) },
    }).catch(() => {});
  }
}

export function init(form) {
  new Autosave(stepFormOf(form)).start();
}
