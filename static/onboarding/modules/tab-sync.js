// Keeps the tabs of one user in step: a write in one tab is announced on a BroadcastChannel, and
// a tab that hears it (or regains focus) reads the progress. If the revision moved, a tab with no
// unsaved edits takes the step's values and revision from the server's page; a tab with unsaved
// edits keeps them and, when the move touched its step, shows the server's "changed elsewhere"
// notice. A stale tab never overwrites newer data unseen.

import { fetchChanges } from "../lib/conflict-view.js";
import { getJSON } from "../lib/save-client.js";
import { stepFormOf } from "../lib/step-form.js";
import { WRITTEN_EVENT, showConflict, touchesStep } from "../lib/step-writer.js";
import { setSyncState } from "../lib/sync-state.js";

const CHANNEL = "onboarding-progress";

class TabSync {
  constructor(page) {
    this.page = page;
    this.channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
    this.pending = false;
    this.again = false;
  }

  start() {
    document.addEventListener(WRITTEN_EVENT, ({ detail: { progress } }) => {
      this.channel?.postMessage({ revision: progress.revision });
    });
    this.channel?.addEventListener("message", ({ data }) => {
      if (data?.revision !== this.page.revision) this.refresh();
    });
    window.addEventListener("focus", () => this.refresh());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.refresh();
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.refresh(); // back from the browser's page cache
    });
  }

  refresh() {
    if (this.page.submitting || this.page.leaving) return;
    if (this.pending) {
      this.again = true; // news arrived while reading: read once more afterwards
      return;
    }
    this.pending = true;
    // In the tab's lane, so it never races this tab's own writes.
    this.page.client.enqueue(() => this.reconcile()).finally(() => {
      this.pending = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
  }

  async reconcile() {
    const { page } = this;
    const answer = await getJSON(page.url("progress"));
    if (answer.outcome !== "ok" || answer.body.revision === page.revision || page.submitting || page.leaving) return;
    if (answer.body.state === "completed") return page.goTo(page.url("dashboard"));
    if (!page.dirty) return this.takeServerPage();
    await this.keepEdits(answer.body);
  }

  // Nothing typed here: show the step as the server renders it now (values, drafts, revision).
  async takeServerPage() {
    const { page } = this;
    const response = await fetch(page.stepUrl(page.step), { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) return;
    if (new URL(response.url).pathname !== new URL(page.stepUrl(page.step), location.href).pathname) {
      return page.goTo(response.url); // the step is no longer open (another tab went back): go where the server says
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const freshForm = fresh.querySelector(`form[data-step="${CSS.escape(page.step)}"]`);
    if (!freshForm || page.dirty) return;
    page.adoptFrom(freshForm);
    const progress = fresh.querySelector("nav.progress");
    if (progress) document.querySelector("nav.progress")?.replaceWith(document.importNode(progress, true));
    setSyncState("saved");
  }

  // Unsaved edits here: keep them; flag the step if the other write touched it.
  async keepEdits(progress) {
    const { page } = this;
    const since = page.revision;
    const changes = await fetchChanges(page, since);
    if (!changes) return;
    if (touchesStep(page, changes.changed)) {
      await showConflict(page, { since, currentRevision: progress.revision, changes });
    } else {
      page.revision = changes.revision ?? progress.revision; // other steps only: nothing here is stale
    }
  }
}

export function init(form) {
  new TabSync(stepFormOf(form)).start();
}
