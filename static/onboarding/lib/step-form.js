// The wizard step on the page: its fields, its revision, the URLs it names — read from the
// server's markup (data-* attributes of the form and of each field's wrapper); no field, label or
// rule is restated in JavaScript. ``show`` puts another step into the same page from the shell's
// server-rendered <template> (shell.js), so the user moves on while the server lags behind.

import { headingFocus } from "./tab-storage.js";

const pages = new WeakMap();

// What a control holds for an answer: lists typed as comma-separated text where the field is text.
function controlValue(control, value) {
  if (Array.isArray(value) && (control.tagName === "TEXTAREA" || control.type === "text")) return value.join(", ");
  return value ?? "";
}

export class StepForm {
  constructor(form) {
    this.form = form;
    this.dirty = false; // edited since its values last came from the server or the outbox
    this.leaving = false; // navigating away: nothing more is done from this page
    this.baseline = this.values(); // the values as they came: a draft sends only what differs
  }

  // The fields whose values differ from the baseline (what the user changed on this page).
  changed() {
    return Object.fromEntries(Object.entries(this.values()).filter(([field, value]) => (
      JSON.stringify(value) !== JSON.stringify(this.baseline[field])
    )));
  }

  get step() {
    return this.form.dataset.step;
  }

  get isLast() {
    return this.form.hasAttribute("data-last");
  }

  // Whether the step on screen came from the shell (the server does not show it this way yet).
  get isLocal() {
    return this.form.hasAttribute("data-local");
  }

  url(name) {
    return this.form.dataset[`${name}Url`];
  }

  stepUrl(step) {
    return this.url("step").replace("__step__", encodeURIComponent(step));
  }

  get revision() {
    return this.form.querySelector("input[name=revision]").value;
  }

  set revision(value) {
    // The Back form carries it too.
    for (const input of document.querySelectorAll("input[name=revision]")) input.value = value;
  }

  fields() {
    return [...this.form.querySelectorAll("[data-field]")];
  }

  controls(wrapper) {
    return [...this.form.querySelectorAll(`[name="${CSS.escape(wrapper.dataset.fieldName)}"]`)];
  }

  // The step's answers as the form's widgets hold them (what the server's form reads).
  values() {
    const answers = {};
    for (const wrapper of this.fields()) {
      const controls = this.controls(wrapper);
      if (!controls.length) continue;
      const [first] = controls;
      if (wrapper.hasAttribute("data-multiple")) {
        answers[wrapper.dataset.field] = first.tagName === "SELECT"
          ? [...first.selectedOptions].map((option) => option.value)
          : controls.filter((control) => control.checked).map((control) => control.value);
      } else if (first.type === "checkbox") {
        answers[wrapper.dataset.field] = first.checked;
      } else if (first.type === "radio") {
        answers[wrapper.dataset.field] = controls.find((control) => control.checked)?.value ?? "";
      } else {
        answers[wrapper.dataset.field] = first.value;
      }
    }
    return answers;
  }

  // Put ``answers`` (as values() returns them, or as the API stores them) into the widgets.
  fill(answers) {
    for (const wrapper of this.fields()) {
      const value = answers?.[wrapper.dataset.field];
      if (value === undefined) continue;
      for (const control of this.controls(wrapper)) {
        if (control.tagName === "SELECT") {
          for (const option of control.options) option.selected = [value].flat().map(String).includes(option.value);
        } else if (control.type === "checkbox" || control.type === "radio") {
          control.checked = typeof value === "boolean" ? value : [value].flat().map(String).includes(control.value);
        } else {
          control.value = controlValue(control, value);
        }
      }
    }
  }

  // Show ``step`` from the shell in this page (fields and buttons as the server renders them),
  // filled with ``answers``; the URL becomes the step's. ``statuses``: step → done/skipped/pending.
  show(shell, step, { answers, statuses = {}, revision }) {
    const template = shell.template(step);
    if (!template) return false;
    const index = shell.order.indexOf(step);
    const content = template.content.cloneNode(true);
    this.form.querySelector("[data-step-fields]").replaceWith(content.querySelector("[data-step-fields]"));
    this.form.querySelector(".actions").replaceWith(content.querySelector(".actions"));
    this.form.dataset.step = step;
    this.form.dataset.stepIndex = String(index);
    this.form.toggleAttribute("data-last", template.hasAttribute("data-last"));
    this.form.setAttribute("data-local", "");
    this.form.action = this.stepUrl(step);
    const current = this.form.querySelector("input[name$='-current_step']");
    if (current) current.value = step;
    if (revision !== undefined) this.revision = revision;
    this.form.hidden = false;
    document.getElementById("wizard-back")?.remove(); // the template's Back belongs to this form
    this.showHeading(shell, step, index, statuses);
    this.fill(answers ?? {});
    this.baseline = this.values();
    this.dirty = false;
    if (location.pathname !== new URL(this.stepUrl(step), location.href).pathname) {
      history.replaceState(null, "", this.stepUrl(step));
    }
    return true;
  }

  showHeading(shell, step, index, statuses) {
    const title = shell.title(step);
    const words = (text) => (text ?? "").replace("{title}", title).replace("{n}", index + 1).replace("{count}", shell.order.length);
    const heading = document.querySelector("main h1");
    const pattern = shell.doc.querySelector("[data-shell-title]")?.dataset.textDocumentTitle;
    if (heading) heading.textContent = title;
    if (pattern) document.title = words(pattern);
    const nav = shell.doc.querySelector("nav[data-shell-progress]")?.cloneNode(true);
    const here = document.querySelector("nav.progress");
    if (!nav || !here) return;
    const label = nav.querySelector(".progress-label");
    label.textContent = words(label.dataset.text);
    nav.querySelector("progress").max = shell.order.length;
    nav.querySelector("progress").value = index + 1;
    const list = nav.querySelector("ol");
    for (const key of shell.order) {
      const status = statuses[key] ?? "pending";
      const item = document.createElement("li");
      item.className = `${status}${key === step ? " current" : ""}`;
      if (key === step) item.setAttribute("aria-current", "step");
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = `(${list.dataset[`text${status[0].toUpperCase()}${status.slice(1)}`]})`;
      item.append(`${shell.title(key)} `, hidden);
      list.append(item);
    }
    here.replaceWith(document.importNode(nav, true));
  }

  // Go to ``url`` (a step the server named, or the dashboard); nothing more is sent from here.
  goTo(url, { focusHeading = true } = {}) {
    this.leaving = true;
    if (focusHeading) headingFocus.request();
    window.location.assign(url);
  }
}

// The one StepForm of a form element, shared by the modules initialised on it.
export function stepFormOf(form) {
  if (!pages.has(form)) pages.set(form, new StepForm(form));
  return pages.get(form);
}
