// Conditionally revealed fields (GOV.UK's pattern): a field marked data-revealed-by="mode"
// data-reveal-value="create" shows only while that radio answer is chosen. Without JavaScript
// every field shows (their help text says when each applies) and the server keeps only the one
// that matters. Hidden fields keep their values: switching back shows what was typed.

function update(form, wrappers) {
  for (const wrapper of wrappers) {
    const chosen = form.querySelector(`[data-field="${CSS.escape(wrapper.dataset.revealedBy)}"] input:checked`);
    const shown = chosen?.value === wrapper.dataset.revealValue;
    wrapper.hidden = !shown;
  }
}

export function init(form) {
  const wrappers = [...form.querySelectorAll("[data-revealed-by]")];
  if (!wrappers.length) return;
  for (const wrapper of wrappers) {
    const controller = form.querySelector(`[data-field="${CSS.escape(wrapper.dataset.revealedBy)}"]`);
    const radio = controller?.querySelector(`input[value="${CSS.escape(wrapper.dataset.revealValue)}"]`);
    if (radio) {
      wrapper.id ||= `${wrapper.dataset.fieldId}_reveal`;
      radio.setAttribute("aria-controls", wrapper.id);
    }
  }
  form.addEventListener("change", () => update(form, wrappers));
  update(form, wrappers);
}
