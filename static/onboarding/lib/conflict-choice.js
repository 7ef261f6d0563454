// The choice the sender leaves to the user: the server's 409 named fields that this write would
// set to another value than the one saved elsewhere meanwhile. Each is shown with its label, both
// values (as the wizard shows them) and a radio button for each: "Keep mine" / "Take the one
// saved elsewhere". "Save my choices" puts the merge into the outbox record, on the revision the
// server answered with, and sends it. The words and field markup come from the server's templates.

import { amend, newKey } from "./outbox.js";
import { reportEvent } from "./telemetry.js";

const shown = new Set(); // records whose choice was reported already (by stamp)

function element(tag, { text, ...attributes } = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  node.append(...children);
  return node;
}

function choice(name, id, value, text) {
  const input = element("input", { type: "radio", name, id, value, required: "" });
  return element("div", {}, [input, element("label", { for: id, text })]);
}

// Show the choice for ``record`` (its conflict: {fields: [{field, mine, theirs}], revision});
// ``onSaved(record)`` runs once the merge is stored. Return the heading to focus.
export function showChoice(record, shell, onSaved) {
  const template = document.querySelector("template[data-offline-conflict-template]");
  const slot = document.querySelector("[data-conflict-slot]");
  if (!template || !slot) return null;
  const section = template.content.firstElementChild.cloneNode(true);
  const form = section.querySelector("[data-offline-conflict-form]");
  const texts = form.dataset;
  section.querySelector("[data-step-title]").textContent = shell?.title(record.step) ?? record.step;
  const display = (field, value) => shell?.display(record.step, field, value, texts) ?? String(value ?? texts.textEmpty);
  const fields = record.conflict.fields.map((item, index) => element("fieldset", { class: "conflict-choice" }, [
    element("legend", { text: shell?.label(record.step, item.field) ?? item.field }),
    choice(`keep-${item.field}`, `keep-${index}-mine`, "mine", `${texts.textMine} ${display(item.field, item.mine)}`),
    choice(`keep-${item.field}`, `keep-${index}-theirs`, "theirs", `${texts.textTheirs} ${display(item.field, item.theirs)}`),
  ]));
  section.querySelector("[data-offline-conflict-fields]").replaceChildren(...fields);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answers = { ...record.answers };
    for (const item of record.conflict.fields) {
      if (form.elements[`keep-${item.field}`].value === "theirs") answers[item.field] = item.theirs;
    }
    const merged = await amend(record, { answers, base: record.conflict.revision, conflict: null, key: newKey() });
    section.remove();
    if (merged) onSaved(merged);
  });
  slot.replaceChildren(section);
  if (!shown.has(record.stamp)) {
    shown.add(record.stamp);
    reportEvent(document.querySelector("form.wizard-form"), record.step, "conflict_shown");
  }
  return section.querySelector("h2");
}
