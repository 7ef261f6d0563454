// Keeps the tabs of one user in step: the client announces every accepted write on a
// BroadcastChannel, and a tab that hears it (or regains focus) reads the progress. If the revision
// moved, a tab with nothing typed and nothing waiting in the outbox takes the step's values and
// revision from the server's page; a tab with unsaved edits keeps them and says that the step was
// saved elsewhere. It keeps the revision its values came from, so its next save is checked by the
// server, whose 409 names only the fields that really differ, and the user chooses (never a
// silent overwrite).

import { client } from "../lib/client.js";
import { request } from "../lib/sender.js";
import { stepFormOf } from "../lib/step-form.js";

const CHANNEL = "onboarding-outbox";

class TabSync {
  constructor(page) {
    this.page = page;
    this.pending = false;
    this.again = false;
  }

  start() {
    if ("BroadcastChannel" in window) {
      new BroadcastChannel(CHANNEL).addEventListener("message", ({ data }) => {
        if (data?.type === "accepted" && data.progress?.revision !== this.page.revision) this.refresh();
      });
    }
    window.addEventListener("focus", () => this.refresh());
    window.addEventListener("pageshow", (event) => event.persisted && this.refresh()); // back from the page cache
  }

  refresh() {
    if (this.pending) {
      this.again = true; // news arrived while reading: read once more afterwards
      return;
    }
    this.pending = true;
    this.reconcile().catch(() => {}).finally(() => {
      this.pending = false;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
  }

  // Whether the user changed anything on this page since its values came (drafts included:
  // a draft on the server is not a save, and the other tab's save may differ from it).
  edited() {
    return Object.keys(this.page.changed()).length > 0;
  }

  quiet() {
    const { page } = this;
    return page.submitting || page.leaving || page.isLocal || page.form.hidden || !client.available;
  }

  async reconcile() {
    const { page } = this;
    if (this.quiet() || (await client.records()).length) return; // the outbox decides what shows
    const answer = await request(page.url("progress"), { timeoutMs: client.timeoutMs });
    if (answer.status !== 200 || answer.body.revision === page.revision || this.quiet()) return;
    if (answer.body.state === "completed") return page.goTo(page.url("dashboard"));
    if (!this.edited()) return this.takeServerPage();
    document.querySelector("[data-changed-elsewhere]")?.removeAttribute("hidden");
    client.notice = true;
    await client.showState();
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
    if (!freshForm || this.edited() || this.quiet()) return;
    page.fill(stepFormOf(freshForm).values());
    page.baseline = page.values();
    page.revision = freshForm.querySelector("input[name=revision]").value;
    const progress = fresh.querySelector("nav.progress");
    if (progress) document.querySelector("nav.progress")?.replaceWith(document.importNode(progress, true));
    client.accepted = "save";
    await client.showState();
  }
}

export function init(form) {
  new TabSync(stepFormOf(form)).start();
}
