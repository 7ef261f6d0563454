// The choice a replay cannot make alone: answers kept on this device for fields that were changed
// to something else elsewhere meanwhile. Each field is shown with its label (from the manifest),
// the server's value and the device's value as radio buttons, the device's chosen by default;
// "Save my choices" stores the result in the queued record and sends it. User text goes in with
// textContent only.

import { amend, newKey } from "./offline-store.js";

const SLOT = "[data-conflict-slot]";

function element(tag, { text, ...attributes } = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  node.append(...children);
  return node;
}

// The value as the wizard shows it: choice labels, lists joined, Yes/No, "(empty)".
export function displayValue(definition, value) {
  const labels = new Map((definition?.choices ?? []).map((choice) => [choice.value, choice.label]));
  const items = Array.isArray(value) ? value : typeof value === "boolean" ? [value ? "Yes" : "No"] : [value];
  const shown = items.filter((item) => item !== null && item !== undefined && String(item).trim() !== "");
  return shown.length ? shown.map((item) => labels.get(item) ?? String(item)).join(", ") : "(empty)";
}

function choice(name, id, value, text, checked) {
  const input = element("input", { type: "radio", name, id, value });
  input.checked = checked;
  return element("div", {}, [input, element("label", { for: id, text })]);
}

// Show the choice for ``kept`` (its conflict: {fields: [{field, server, device}], revision});
// ``onSaved(record)`` runs once the choices are stored. Return the heading to focus.
export function showDeviceConflict(kept, manifest, onSaved) {
  const step = manifest?.steps.find((item) => item.key === kept.step);
  const definitions = new Map((step?.fields ?? []).map((field) => [field.name, field]));
  const title = element("h2", { id: "offline-conflict-title", tabindex: "-1", text: `${step?.title ?? kept.step}: changed somewhere else` });
  const form = element("form", { "data-offline-conflict-form": "" });
  for (const [index, item] of kept.conflict.fields.entries()) {
    const definition = definitions.get(item.field);
    const name = `keep-${item.field}`;
    form.append(element("fieldset", {}, [
      element("legend", { text: definition?.label ?? item.field }),
      choice(name, `keep-${index}-device`, "device", `On this device: ${displayValue(definition, item.device)}`, true),
      choice(name, `keep-${index}-server`, "server", `Saved elsewhere: ${displayValue(definition, item.server)}`, false),
    ]));
  }
  form.append(element("button", { type: "submit", class: "primary", text: "Save my choices" }));
  const section = element("section", { class: "notice conflict", "data-offline-conflict": "", "aria-labelledby": title.id }, [
    title,
    element("p", { text: "These answers waited on this device while they were changed somewhere else. Choose which value to keep for each field." }),
    form,
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answers = { ...kept.answers };
    for (const item of kept.conflict.fields) {
      if (form.elements[`keep-${item.field}`].value === "server") answers[item.field] = item.server;
    }
    const { revision } = kept.conflict;
    const saved = await amend(kept, { answers, conflict: null, baseRevision: revision, sentRevision: revision, key: newKey() });
    section.remove();
    onSaved(saved);
  });
  document.querySelector(SLOT)?.replaceChildren(section);
  return title;
}
