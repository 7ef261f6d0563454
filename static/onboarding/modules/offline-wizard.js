// The wizard without the server: the service worker serves the page shell for any /o/<step>/ it
// cannot fetch, and this module renders that step into it from the cached manifest (same labels,
// same fields and controls, the same required and length rules as the server's form) with the
// answers known on this device (kept in the queue, else the last progress the server sent).
// Then the usual modules take the form: Continue / Skip / Back / Finish keep it on the device.

import { showIssues } from "../lib/inline-errors.js";
import { offline } from "../lib/offline.js";
import { stepFormOf } from "../lib/step-form.js";
import * as autosave from "./autosave.js";
import * as wizardForm from "./wizard-form.js";

function element(tag, { text, ...attributes } = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value === true ? "" : value);
  }
  if (text !== undefined) node.textContent = text;
  node.append(...children);
  return node;
}

// What the form's controls hold for ``value`` (lists typed as comma-separated text).
function formValue(definition, value) {
  if (value === undefined || value === null) return definition.default ?? undefined;
  if (Array.isArray(value) && ["text", "textarea"].includes(definition.widget)) return value.join(", ");
  return value;
}

function control(definition, id, name, texts) {
  const { widget, required } = definition;
  if (widget === "textarea") return element("textarea", { id, name, rows: "3", required, maxlength: definition.max_length });
  if (widget === "checkbox") return element("input", { type: "checkbox", id, name, required });
  if (widget === "select") {
    const select = element("select", { id, name, required });
    if (required && definition.default === null) select.append(element("option", { value: "", text: texts.textChoose }));
    for (const item of definition.choices ?? []) select.append(element("option", { value: item.value, text: item.label }));
    return select;
  }
  if (widget === "radio" || widget === "checkboxes") {
    const type = widget === "radio" ? "radio" : "checkbox";
    return element("div", { id }, (definition.choices ?? []).map((item, index) => element("div", {}, [
      element("label", { for: `${id}_${index}` }, [
        element("input", { type, name, value: item.value, id: `${id}_${index}`, required: type === "radio" && required }),
        ` ${item.label}`,
      ]),
    ])));
  }
  return element("input", { type: "text", id, name, required, maxlength: definition.max_length });
}

// One field as templates/onboarding/_field.html renders it (the data-* the modules read included).
function field(step, definition, texts) {
  const name = `${step}-${definition.name}`;
  const id = `id_${name}`;
  const grouped = definition.widget === "radio" || definition.widget === "checkboxes";
  const labelClass = definition.required ? "required" : null;
  const help = definition.help_text ? element("p", { class: "helptext", id: `${id}_helptext`, text: definition.help_text }) : "";
  const widget = control(definition, id, name, texts);
  if (help && !grouped) widget.setAttribute("aria-describedby", help.id);
  const inner = grouped
    ? [element("fieldset", { "aria-describedby": help ? help.id : null }, [element("legend", { class: labelClass, text: definition.label }), help, widget])]
    : [element("label", { for: id, class: labelClass, text: definition.label }), help, widget];
  return element("div", {
    class: `field${definition.required ? " required" : ""}`, "data-field": definition.name, "data-field-name": name,
    "data-field-id": id, "data-fieldset": grouped, "data-multiple": definition.widget === "checkboxes",
  }, inner);
}

function statusOf(step, progress, kept) {
  if (kept?.action === "save") return "done";
  if (kept?.action === "skip") return "skipped";
  const server = progress?.steps?.find((item) => item.key === step.key)?.status;
  return server ?? "pending";
}

async function render(form) {
  const manifest = await offline.manifest();
  const progress = await offline.progress();
  const wanted = offline.stepOfPath(location.pathname) ?? progress?.current_step;
  const steps = manifest?.steps ?? [];
  const index = steps.findIndex((item) => item.key === wanted);
  if (index < 0) {
    document.querySelector("[data-offline-missing]").hidden = false;
    return null;
  }
  const step = steps[index];
  const isLast = index === steps.length - 1;
  const kept = await offline.queuedFor(step.key);

  const words = (text) => text.replace("{title}", step.title).replace("{n}", index + 1).replace("{count}", steps.length);
  const title = document.querySelector("[data-offline-title]");
  title.textContent = step.title;
  document.title = words(title.dataset.textDocumentTitle);
  const position = document.querySelector("[data-offline-position]");
  position.textContent = words(position.dataset.text);
  const bar = document.querySelector(".progress progress");
  bar.max = steps.length;
  bar.value = index + 1;
  const list = document.querySelector("[data-offline-steps]");
  for (const item of steps) {
    const status = statusOf(item, progress, await offline.queuedFor(item.key));
    const entry = element("li", { class: `${status}${item.key === step.key ? " current" : ""}`, "aria-current": item.key === step.key ? "step" : null },
      [`${item.title} `, element("span", { class: "visually-hidden", text: `(${list.dataset[`text${status[0].toUpperCase()}${status.slice(1)}`]})` })]);
    list.append(entry);
  }

  form.dataset.step = step.key;
  form.dataset.stepIndex = index;
  form.toggleAttribute("data-last", isLast);
  form.action = offline.stepUrl(step.key);
  form.querySelector("input[name=revision]").value = progress?.revision ?? "";
  const texts = form.dataset;
  form.querySelector("[data-offline-fields]").replaceChildren(...step.fields.map((definition) => field(step.key, definition, texts)));
  const actions = [];
  if (index > 0) actions.push(element("button", { type: "submit", name: "wizard_goto_step", value: steps[index - 1].key, class: "secondary", formnovalidate: true, text: texts.textBack }));
  actions.push(element("button", { type: "submit", name: "wizard_continue", value: "1", class: "primary", text: isLast ? texts.textFinish : texts.textContinue }));
  if (step.skippable) actions.push(element("button", { type: "submit", name: "wizard_skip", value: "1", class: "secondary", formnovalidate: true, text: texts.textSkip }));
  form.querySelector("[data-offline-actions]").replaceChildren(...actions);
  form.hidden = false;

  const known = { ...(progress?.answers?.[step.key] ?? {}), ...(progress?.drafts?.[step.key] ?? {}), ...(kept?.answers ?? {}) };
  return { step, known, kept };
}

export function init(form) {
  render(form).then((rendered) => {
    if (!rendered) return;
    const values = {};
    for (const definition of rendered.step.fields) {
      const value = formValue(definition, rendered.known[definition.name]);
      if (value !== undefined) values[definition.name] = value;
    }
    const page = stepFormOf(form);
    page.fill(values);
    wizardForm.init(form);
    autosave.init(form);
    if (rendered.kept?.issues) showIssues(page, rendered.kept.issues);
  }).catch((error) => console.error("onboarding: the offline step could not be shown", error));
}
