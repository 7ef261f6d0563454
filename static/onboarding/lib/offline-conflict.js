// The choice a replay cannot make alone: answers kept on this device for fields that were changed
// to something else elsewhere meanwhile. Each field is shown with its label (from the manifest),
// the server's value and the device's value as radio buttons, the device's chosen by default;
// "Save my choices" stores the result in the queued record and sends it. The words come from the
// server's templates/onboarding/_offline_conflict.html; user text goes in with textContent only.

import { amend, newKey } from "./offline-store.js";

const SLOT = "[data-conflict-slot]";

function element(tag, { text, ...attributes } = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  node.append(...children);
  return node;
}

// The value as the wizard shows it: choice labels, lists joined, Yes/No, "(empty)" (words: ``texts``).
export function displayValue(definition, value, texts) {
  const labels = new Map((definition?.choices ?? []).map((choice) => [choice.value, choice.label]));
  const items = Array.isArray(value) ? value : typeof value === "boolean" ? [value ? texts.textYes : texts.textNo] : [value];
  const shown = items.filter((item) => item !== null && item !== undefined && String(item).trim() !== "");
  return shown.length ? shown.map((item) => labels.get(item) ?? String(item)).join(", ") : texts.textEmpty;
}

function choice(name, id, value, text, checked) {
  const input = element("input", { type: "radio", name, id, value });
  input.checked = checked;
  return element("div", {}, [input, element("label", { for: id, text })]);
}

// Show the choice for ``kept`` (its conflict: {fields: [{field, server, device}], revision}) from
// the server's <template>; ``onSaved(record)`` runs once the choices are stored. Return the
// heading to focus.
export function showDeviceConflict(kept, manifest, onSaved) {
  const step = manifest?.steps.find((item) => item.key === kept.step);
  const definitions = new Map((step?.fields ?? []).map((field) => [field.name, field]));
  const section = document.querySelector("template[data-offline-conflict-template]").content.firstElementChild.cloneNode(true);
  const form = section.querySelector("[data-offline-conflict-form]");
  const texts = form.dataset;
  section.querySelector("[data-step-title]").textContent = step?.title ?? kept.step;
  const fields = kept.conflict.fields.map((item, index) => {
    const definition = definitions.get(item.field);
    const name = `keep-${item.field}`;
    return element("fieldset", {}, [
      element("legend", { text: definition?.label ?? item.field }),
      choice(name, `keep-${index}-device`, "device", `${texts.textDevice} ${displayValue(definition, item.device, texts)}`, true),
      choice(name, `keep-${index}-server`, "server", `${texts.textServer} ${displayValue(definition, item.server, texts)}`, false),
    ]);
  });
  section.querySelector("[data-offline-conflict-fields]").replaceChildren(...fields);
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
  return section.querySelector("h2");
}
