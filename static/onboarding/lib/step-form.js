// The wizard step as the server rendered it: its fields, its revision, the URLs it names.
// Everything here is read from the page's markup (data-* attributes of the form and of each
// field's wrapper); no field, label or rule is restated in JavaScript.

import { SaveClient } from "./save-client.js";
import { setSyncState } from "./sync-state.js";
import { headingFocus } from "./tab-storage.js";

const pages = new WeakMap();

export class StepForm {
  constructor(form) {
    this.form = form;
    this.step = form.dataset.step;
    this.isLast = form.hasAttribute("data-last");
    this.index = form.dataset.stepIndex ? Number(form.dataset.stepIndex) : undefined; // its place in the wizard
    this.dirty = false; // edited in this tab since its values last came from the server
    this.inConflict = false; // a "changed elsewhere" notice is up: it stays the status until a save
    this.conflictBase = null; // the revision the values on the page came from, when such a notice came up
    this.leaving = false; // navigating away: nothing more is sent from this page
    this.client = new SaveClient({ onRetrying: () => setSyncState("retrying") });
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

  // Put ``answers`` (as values() returns them) back into the widgets.
  fill(answers) {
    for (const wrapper of this.fields()) {
      const value = answers[wrapper.dataset.field];
      if (value === undefined) continue;
      for (const control of this.controls(wrapper)) {
        if (control.tagName === "SELECT") {
          for (const option of control.options) option.selected = [value].flat().includes(option.value);
        } else if (control.type === "checkbox" || control.type === "radio") {
          control.checked = typeof value === "boolean" ? value : [value].flat().includes(control.value);
        } else {
          control.value = value;
        }
      }
    }
  }

  // Go to ``url`` (a step the server named, or the dashboard); timers still pending send nothing.
  goTo(url, { focusHeading = true } = {}) {
    this.leaving = true;
    if (focusHeading) headingFocus.request();
    window.location.assign(url);
  }

  // Take the values and revision of the same step rendered afresh by the server.
  adoptFrom(freshForm) {
    const fresh = new StepForm(freshForm);
    this.fill(fresh.values());
    this.revision = fresh.revision;
    this.dirty = false;
  }
}

// The one StepForm of a form element, shared by the modules initialised on it.
export function stepFormOf(form) {
  if (!pages.has(form)) pages.set(form, new StepForm(form));
  return pages.get(form);
}
