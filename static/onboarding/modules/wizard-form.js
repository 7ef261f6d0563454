// Continue / Skip / Back / Finish through the progress and completion API, then on to the page
// the server names. The server-rendered form stays the fallback: if anything here throws, the
// browser posts the form exactly as it would without JavaScript.
//
// When the server cannot be reached (or writes are already waiting on this device, which go
// first, in order), the step is kept in the offline queue and the wizard moves on by the cached
// manifest: the next step, the previous one, or on the last step a Finish that waits too.

import { clearChanges } from "../lib/conflict-view.js";
import { clearIssues, showIssues } from "../lib/inline-errors.js";
import { offline } from "../lib/offline.js";
import { stepFormOf } from "../lib/step-form.js";
import { SUBMITTING_EVENT, reportFailure, sendWrite, showConflict } from "../lib/step-writer.js";
import { setSyncState } from "../lib/sync-state.js";
import { headingFocus, pendingIssues, typedValues } from "../lib/tab-storage.js";

function actionOf(event) {
  if (event.target.id === "wizard-back" || event.submitter?.name === "wizard_goto_step") return "back";
  return event.submitter?.name === "wizard_skip" ? "skip" : "save";
}

// Where the server says the user goes next: the dashboard, or the step it names.
function nextUrl(page, progress) {
  if (progress.state === "completed") return page.url("dashboard");
  return page.stepUrl(progress.current_step ?? progress.steps.at(-1).key);
}

// Focus a heading for screen readers without making it a tab stop (as GOV.UK Frontend does).
function focusHeading(heading) {
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.addEventListener("blur", () => heading.removeAttribute("tabindex"), { once: true });
  heading.focus();
}

class WizardForm {
  constructor(page) {
    this.page = page;
    this.busy = false;
    this.fallback = false;
  }

  start() {
    const { form } = this.page;
    form.addEventListener("submit", (event) => this.onSubmit(event));
    document.getElementById("wizard-back")?.addEventListener("submit", (event) => this.onSubmit(event));
    const keep = () => {
      this.page.dirty = true;
      typedValues.keep(this.page.step, this.page.values());
    };
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    if (this.choosing()) this.page.inConflict = true;
    setTimeout(() => this.restore()); // once every module on the page has started
  }

  // After a detour (a login, a reload): what was typed here and never reached the server, the
  // issues Finish found on this step, and the focus on the new step's heading.
  restore() {
    const { page } = this;
    const typed = typedValues.read(page.step);
    if (typed) {
      page.fill(typed);
      page.form.dispatchEvent(new Event("change", { bubbles: true })); // unsaved again: autosave it
    }
    const issues = pendingIssues.take(page.step);
    if (issues) {
      showIssues(page, issues).focus();
      setSyncState("failed", "invalid");
      headingFocus.take();
    } else if (headingFocus.take()) {
      focusHeading(document.querySelector("main h1"));
    }
    if (this.choosing()) setSyncState("conflict"); // the server's conflict page: the choice is the news
  }

  async onSubmit(event) {
    // The browser posts the form, as without JavaScript: after a failure here, or from the
    // server's conflict page, whose keep-mine / take-theirs choices only the server applies.
    if (this.choosing()) typedValues.forget(this.page.step); // the post carries them; the server re-renders them
    if (this.fallback || this.choosing()) return;
    event.preventDefault();
    if (this.busy) return;
    this.submitter = event.submitter;
    this.busy = this.page.submitting = true;
    document.dispatchEvent(new CustomEvent(SUBMITTING_EVENT));
    try {
      await this.submit(actionOf(event));
    } catch (error) {
      console.error("onboarding: saving through the API failed; posting the form instead", error);
      this.fallback = true;
      event.target.requestSubmit(event.submitter);
    } finally {
      this.busy = this.page.submitting = false;
    }
  }

  async submit(action) {
    const { page } = this;
    setSyncState("saving");
    const body = { step: page.step, action };
    if (action === "save") body.answers = page.values();
    // After a "changed elsewhere" notice: based on what the user saw, so nothing is overwritten unasked.
    if (action === "save" && page.inConflict && page.conflictBase) page.revision = page.conflictBase;
    if (await offline.hasQueued()) return this.keepOnDevice(action, body.answers, { tryNow: true });
    let answer = await sendWrite(page, { url: page.url("progress"), body });
    if (answer.outcome === "unreachable" && offline.available) return this.keepOnDevice(action, body.answers);
    if (action === "save" && answer.outcome === "conflict" && answer.body?.code === "revision_conflict") {
      return this.postForChoice(answer.sentRevision);
    }
    if (answer.outcome === "ok" && action === "save" && page.isLast) {
      answer = await sendWrite(page, { url: page.url("complete"), method: "POST", body: {} });
      if (answer.outcome === "unreachable" && offline.available) return this.keepOnDevice("complete");
    }
    if (answer.outcome === "ok") return this.leave(answer.body);
    await this.showRefusal(answer);
  }

  // Whether the page is the server's conflict page, asking which value to keep per field.
  choosing() {
    return document.querySelector("[data-conflict-field]") !== null;
  }

  // A save refused because the same fields changed elsewhere (the server's 409 names only those):
  // post the form with the revision it was based on, so the server renders the choice per field.
  postForChoice(sentRevision) {
    this.fallback = true;
    this.page.revision = sentRevision;
    typedValues.keep(this.page.step, this.page.values());
    this.page.form.requestSubmit(this.submitter?.form === this.page.form ? this.submitter : undefined);
  }

  // Keep the step on this device and move on as the cached manifest says (Back only moves: the
  // server's own "back" has nothing to keep). With ``tryNow`` (writes were already waiting) the
  // queue is sent at once, and the offline-queue module shows where that lands.
  async keepOnDevice(action, answers, { tryNow = false } = {}) {
    const { page } = this;
    const finish = page.isLast && (action === "save" || action === "complete");
    if (action === "save" || action === "skip") {
      await offline.keep({ step: page.step, order: page.index, action, answers, revision: page.revision, finish });
    } else if (action === "complete") {
      await offline.keepCompletion({ revision: page.revision });
    }
    typedValues.forget(page.step);
    page.dirty = false;
    if (tryNow && action !== "back") {
      const outcome = await offline.replayNow();
      if (!["unreachable", "busy"].includes(outcome.state)) return; // on its way, or a question for the user
    }
    if (finish) return setSyncState("queued", "finish");
    setSyncState("queued");
    const next = await offline.neighbour(page.step, action === "back" ? -1 : 1);
    if (next && (await offline.canWorkOffline())) page.goTo(page.stepUrl(next));
  }

  leave(progress) {
    typedValues.forget(this.page.step);
    this.page.dirty = false;
    setSyncState("saved");
    this.page.goTo(nextUrl(this.page, progress));
  }

  async showRefusal(answer) {
    const { page } = this;
    const code = answer.body?.code;
    if (answer.outcome === "invalid" && answer.body?.issues) return this.showInvalid(answer.body);
    if (answer.outcome === "conflict" && code === "already_completed") return page.goTo(page.url("dashboard"));
    if (answer.outcome === "conflict" && code === "revision_conflict") {
      clearIssues(page);
      const notice = await showConflict(page, { since: answer.sentRevision, currentRevision: answer.body.current.revision });
      notice?.focus();
      return;
    }
    reportFailure(answer);
  }

  // As the server-rendered wizard does: issues of an earlier step take the user there.
  showInvalid({ issues, blocking_step: blocking }) {
    const { page } = this;
    if (blocking && blocking !== page.step) {
      const onBlocking = issues.filter((item) => item.step === blocking);
      pendingIssues.keep(blocking, onBlocking.length ? onBlocking : issues);
      return page.goTo(page.stepUrl(blocking), { focusHeading: false });
    }
    clearChanges();
    page.inConflict = false;
    showIssues(page, issues.filter((item) => item.step === page.step || item.step === null)).focus();
    setSyncState("failed", "invalid");
  }
}

export function init(form) {
  new WizardForm(stepFormOf(form)).start();
}
