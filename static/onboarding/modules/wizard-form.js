// Continue / Skip / Back / Finish with JavaScript: each puts its write into the device outbox
// (lib/client.js) and waits for the sender's first verdict. Accepted: on to the page the server
// names. Not accepted yet (no network, a 5xx, a timeout, a lost login): the user goes on from the
// shell's server-rendered step templates while the outbox waits. Refused: the server's issues
// inline, or the choice per field when the server's 409 names fields that differ.
//
// What the page shows is derived from the server's last answer plus what the outbox still holds
// (``derive``): on load, after every verdict, and when another tab or the service worker sent
// something. If anything here throws, the browser posts the form exactly as without JavaScript.

import { ACCEPTED_EVENT, DRAINED_EVENT, client } from "../lib/client.js";
import { showChoice } from "../lib/conflict-choice.js";
import { QUEUED_AFTER, retryDelay } from "../lib/sender.js";
import { clearIssues, showIssues } from "../lib/inline-errors.js";
import { Shell, loadShell } from "../lib/shell.js";
import { stepFormOf, StepForm } from "../lib/step-form.js";
import { setSyncState } from "../lib/sync-state.js";
import { headingFocus, pendingIssues } from "../lib/tab-storage.js";
import * as conditionalReveal from "./conditional-reveal.js";
import * as timezoneGuess from "./timezone-guess.js";

export const SUBMITTING_EVENT = "onboarding:submitting"; // Continue/Skip/Back/Finish pressed: drafts wait
const SHELL_PROBE_MS = 2_000;
const PATIENCE_MS = 3_000; // how long a submit waits through retries before the user goes on

function actionOf(event) {
  if (event.target.id === "wizard-back" || event.submitter?.name === "wizard_goto_step") return "back";
  return event.submitter?.name === "wizard_skip" ? "skip" : "save";
}

// Focus a heading for screen readers without making it a tab stop (as GOV.UK Frontend does).
function focusHeading(heading) {
  if (!heading) return;
  heading.setAttribute("tabindex", "-1");
  heading.addEventListener("blur", () => heading.removeAttribute("tabindex"), { once: true });
  heading.focus();
}

// Each step's status as the server last said, with the outbox's saves and skips on top.
function statusesOf(progress, records) {
  const statuses = Object.fromEntries((progress?.steps ?? []).map((step) => [step.key, step.status]));
  for (const record of records) {
    if (record.action === "save") statuses[record.step] = "done";
    else if (record.action === "skip") statuses[record.step] = "skipped";
  }
  return statuses;
}

// A step's answers: the server's (with its draft on top), then what the outbox holds, newest last.
function answersOf(step, progress, records) {
  const answers = { ...(progress?.answers?.[step] ?? {}), ...(progress?.drafts?.[step] ?? {}) };
  for (const record of records) if (record.step === step && record.answers) Object.assign(answers, record.answers);
  return answers;
}

// Where the outbox puts the user: the step after their last kept save or skip, the one before a
// kept back, the step of a kept draft, or the Finish kept on the device.
function positionOf(records, shell) {
  const last = records.at(-1);
  if (!last) return null;
  if (last.action === "complete") return { finish: true };
  if (last.action === "save" || last.action === "skip") return { step: shell?.neighbour(last.step, 1) ?? last.step };
  if (last.action === "back") return { step: shell?.neighbour(last.step, -1) ?? last.step };
  return { step: last.step };
}

class WizardForm {
  constructor(page) {
    this.page = page;
    this.busy = false;
    this.fallback = false;
    this.finishShown = false;
    this.mine = new Set(); // the outbox records this page put (by seq)
    this.showedKept = false; // what this page showed came (partly) from the outbox
  }

  start() {
    const { form } = this.page;
    form.addEventListener("submit", (event) => this.onSubmit(event));
    document.getElementById("wizard-back")?.addEventListener("submit", (event) => this.onSubmit(event));
    const edited = () => {
      this.page.dirty = true;
    };
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
    document.addEventListener(DRAINED_EVENT, ({ detail }) => this.onDrained(detail));
    document.addEventListener(ACCEPTED_EVENT, ({ detail }) => {
      // Only along this page's own chain of writes: past changes made elsewhere (a rebased
      // write), the page keeps the revision its values came from, so its next save is checked
      // by the server, which names what really differs.
      if (detail.progress?.revision && !this.page.isLocal && !detail.rebased && detail.madeOn === this.page.revision) {
        this.page.revision = detail.progress.revision;
      }
    });
    setTimeout(() => this.restore().catch((error) => console.error("onboarding: the step could not be restored", error)));
  }

  // Whether the page is the server's conflict page, asking which value to keep per field: its
  // Continue is posted as a form (only the server applies the choices).
  choosing() {
    return document.querySelector("[data-conflict-field]") !== null;
  }

  async restore() {
    const { page } = this;
    if (this.choosing()) return setSyncState("conflict");
    const issues = pendingIssues.take(page.step);
    if (issues) {
      showIssues(page, issues).focus();
      setSyncState("failed", "invalid");
      headingFocus.take();
    } else if (headingFocus.take()) {
      focusHeading(document.querySelector("main h1"));
    }
    if (!client.available) return undefined;
    await this.derive();
    if (this.page.form.hasAttribute("data-shell")) this.probeServer();
    return undefined;
  }

  // Show what the server's last answer plus the outbox say: the step the user is on (with the
  // values they typed), a choice the server asked for, its issues, or the Finish kept here.
  async derive() {
    const { page } = this;
    const records = await client.records();
    const isShell = page.form.hasAttribute("data-shell");
    if (records.length) this.showedKept = true;
    if (!records.length && !isShell) return;
    const shellDoc = await loadShell();
    const shell = shellDoc ? new Shell(shellDoc) : null;
    const progress = await client.lastProgress();
    const [front] = records;
    let position = positionOf(records, shell);
    if (front?.conflict || front?.issues) position = { step: front.step };
    if (!position) position = { step: new URL(location.href).pathname.split("/").filter(Boolean).at(-1) };
    if (position.finish) return this.showFinishKept(shell, progress, records);
    // The shell answers a navigation the server could not: the step its URL names is the one asked for.
    const asked = new URL(location.href).pathname.split("/").filter(Boolean).at(-1);
    if (isShell && !front?.conflict && !front?.issues && shell?.template(asked)) position = { step: asked };
    if (isShell && (!shell || !shell.template(position.step))) position = { step: progress?.current_step ?? shell?.order[0] };
    const answers = answersOf(position.step, progress, records);
    if (position.step === page.step && !page.isLocal && !isShell) {
      // The server's own page of the step: only what the outbox holds goes on top.
      const kept = records.filter((record) => record.step === page.step && record.answers);
      if (kept.length) page.fill(Object.assign({}, ...kept.map((record) => record.answers)));
    } else if (shell && page.show(shell, position.step, { answers, statuses: statusesOf(progress, records), revision: progress?.revision ?? page.revision })) {
      conditionalReveal.init(page.form);
      for (const input of page.form.querySelectorAll("[data-module~='timezone-guess']")) timezoneGuess.init(input);
    } else {
      document.querySelector("[data-offline-missing]")?.removeAttribute("hidden");
      return;
    }
    if (front?.conflict) this.showConflict(shell, front);
    else if (front?.issues && !front.refused && front.step === page.step) {
      showIssues(page, front.issues.filter((item) => item.step === page.step || item.step === null)).focus();
    }
  }

  showConflict(shell, record) {
    const heading = showChoice(record, shell, (merged) => {
      if (merged.step === this.page.step && merged.answers) this.page.fill(merged.answers);
      client.kick();
    });
    heading?.focus();
  }

  // Finish waits on the device: say so, show what will be sent read-only, no second Finish.
  showFinishKept(shell, progress, records) {
    const section = document.querySelector("[data-finish-kept]");
    if (!section) return;
    this.finishShown = true;
    this.page.form.hidden = true;
    document.getElementById("wizard-back")?.remove();
    const summary = section.querySelector("[data-finish-kept-summary]");
    summary.replaceChildren();
    for (const step of shell?.order ?? []) {
      const fieldset = document.createElement("fieldset");
      fieldset.disabled = true;
      const legend = document.createElement("legend");
      legend.textContent = shell.title(step);
      const holder = document.createElement("form");
      holder.append(...shell.fields(step));
      new StepForm(holder).fill(answersOf(step, progress, records));
      // A copy to read, never to send: no names, and ids of its own (labels still name each field).
      for (const control of holder.querySelectorAll("input, select, textarea")) control.removeAttribute("name");
      for (const node of holder.querySelectorAll("[id]")) node.id = `kept-${node.id}`;
      for (const label of holder.querySelectorAll("label[for]")) label.htmlFor = `kept-${label.htmlFor}`;
      for (const node of holder.querySelectorAll("[aria-describedby]")) {
        node.setAttribute("aria-describedby", node.getAttribute("aria-describedby").split(/\s+/).map((id) => `kept-${id}`).join(" "));
      }
      fieldset.append(legend, ...holder.children);
      summary.append(fieldset);
    }
    const wasHidden = section.hidden;
    section.hidden = false;
    if (wasHidden) section.querySelector("h2").focus();
  }

  async onSubmit(event) {
    if (this.fallback || this.choosing() || !client.available) return; // posted as without JavaScript
    event.preventDefault();
    if (this.busy) return;
    this.busy = this.page.submitting = true;
    document.dispatchEvent(new CustomEvent(SUBMITTING_EVENT));
    try {
      await this.submit(actionOf(event));
    } catch (error) {
      console.error("onboarding: keeping the step on the device failed; posting the form instead", error);
      this.fallback = true;
      event.target.requestSubmit(event.submitter);
    } finally {
      this.busy = this.page.submitting = false;
    }
  }

  async submit(action) {
    const { page } = this;
    clearIssues(page);
    document.querySelector("[data-conflict-slot]")?.replaceChildren();
    document.querySelector("[data-changed-elsewhere]")?.setAttribute("hidden", "");
    client.notice = false;
    const base = page.revision;
    const writes = [{ step: page.step, action, base }];
    if (action === "save") writes[0].answers = page.values();
    if (action === "save" && page.isLast) writes.push({ step: page.step, action: "complete", base });
    for (const write of writes) this.mine.add((await client.put(write)).seq);
    page.dirty = false;
    // Through the retries (a moment): a blip should not send the user into the kept mode.
    const started = Date.now();
    let outcome = await client.kick();
    while (outcome.state === "unreachable" && navigator.onLine !== false
           && (outcome.record?.failures ?? QUEUED_AFTER) < QUEUED_AFTER && Date.now() - started < PATIENCE_MS) {
      const wait = retryDelay(outcome.record.failures, outcome.retryAfter);
      if (Date.now() - started + wait > PATIENCE_MS) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
      outcome = await client.kick();
    }
    await this.follow(outcome, { submitted: true });
  }

  // Act on the sender's outcome: go where the server says once it has everything, else show
  // what the outbox says (the next step, a question, the Finish kept).
  async follow(outcome, { submitted = false } = {}) {
    const { page } = this;
    if (page.leaving) return;
    if (outcome.state === "completed") return page.goTo(page.url("dashboard"));
    if (outcome.state === "empty") {
      // Sent by this page, or by another tab or the service worker (then its answer is on the device).
      const progress = outcome.progress ?? (await client.lastProgress());
      // This page moves only for its own writes (another tab may have sent them), or when what
      // it shows came from the outbox and the server now has it all.
      const own = (outcome.accepted ?? []).some((seq) => this.mine.has(seq));
      const moved = (own && outcome.moved) || page.isLocal || this.finishShown || page.form.hasAttribute("data-shell");
      if (!progress || !(moved || submitted)) return undefined;
      if (page.dirty && page.isLocal) {
        // Typed here while the rest was sent: keep it too, then go.
        await client.put({ step: page.step, action: "draft", answers: page.values(), base: progress.revision });
        page.dirty = false;
        return this.follow(await client.kick());
      }
      return page.goTo(client.placeOf(progress));
    }
    if (outcome.state === "invalid" && outcome.record?.action === "complete" && outcome.blockingStep) {
      const records = await client.records();
      if (!records.length) {
        const onBlocking = outcome.issues.filter((item) => item.step === outcome.blockingStep);
        pendingIssues.keep(outcome.blockingStep, onBlocking.length ? onBlocking : outcome.issues);
        return page.goTo(page.stepUrl(outcome.blockingStep), { focusHeading: false });
      }
    }
    if (outcome.state === "busy" && submitted) {
      // Another tab or the service worker is sending this user's outbox: ours goes with it.
      return this.derive();
    }
    if (outcome.state === "auth") return undefined; // the values stay; the status links to the login
    if (["unreachable", "conflict", "invalid", "busy"].includes(outcome.state)) {
      await this.derive();
      if (submitted && !this.finishShown && outcome.state !== "invalid") focusHeading(document.querySelector("main h1"));
    }
    return undefined;
  }

  onDrained(outcome) {
    if (this.busy || this.page.leaving) return; // a submit follows its own outcome
    if (outcome.state === "empty" && !outcome.sent && !this.page.isLocal && !this.finishShown) return;
    if (outcome.state === "unreachable" || outcome.state === "busy") return; // nothing changed on screen
    this.follow(outcome).catch((error) => console.error("onboarding: following the sender failed", error));
  }

  // The shell was served because a navigation failed: once the server answers again, load the
  // real page. If this page showed writes the outbox kept, their sending decides where the user
  // goes (the server's current step, as ``follow`` says), never the step the URL first asked for.
  probeServer() {
    const probe = async () => {
      if (this.page.leaving) return;
      const records = await client.records();
      if (records.length) this.showedKept = true;
      else if (navigator.onLine !== false) {
        if (this.showedKept) {
          // Any other outcome is shown by ``onDrained`` (a question, issues) or waits for the next probe.
          const outcome = await client.kick();
          if (outcome.state === "empty") await this.follow(outcome);
        } else {
          try {
            const response = await fetch(location.href, { method: "HEAD", credentials: "same-origin", cache: "no-store" });
            if (response.ok) return this.page.goTo(location.href, { focusHeading: false });
          } catch { /* still unreachable */ }
        }
      }
      if (!this.page.leaving) setTimeout(probe, SHELL_PROBE_MS);
    };
    setTimeout(probe, SHELL_PROBE_MS);
  }
}

export function init(form) {
  new WizardForm(stepFormOf(form)).start();
}
