// Shows the server's validation issues on the page exactly as the server-rendered page does:
// the error summary (cloned from the server's <template>) linking to each field, an errorlist
// above each field, aria-invalid on its controls, the errorlist's id in aria-describedby, and the
// page title prefixed with "Error:" in the page's language. Messages are the server's.

const ERROR_SUFFIX = "_error";

function describedBy(element, id, add) {
  const ids = (element.getAttribute("aria-describedby") ?? "").split(/\s+/).filter((item) => item && item !== id);
  if (add) ids.push(id);
  if (ids.length) element.setAttribute("aria-describedby", ids.join(" "));
  else element.removeAttribute("aria-describedby");
}

// The elements that carry aria-describedby: the fieldset of a group, else the control(s).
function describedElements(stepForm, wrapper) {
  return wrapper.hasAttribute("data-fieldset") ? [wrapper.querySelector("fieldset")] : stepForm.controls(wrapper);
}

function focusId(wrapper) {
  return wrapper.dataset.fieldId + (wrapper.hasAttribute("data-fieldset") ? "_0" : "");
}

function titlePrefix() {
  const template = document.querySelector("template[data-error-summary-template]");
  return template?.content.firstElementChild.dataset.textTitlePrefix ?? "";
}

function markTitle(prefix, on) {
  const bare = prefix && document.title.startsWith(`${prefix} `) ? document.title.slice(prefix.length + 1) : document.title;
  document.title = on && prefix ? `${prefix} ${bare}` : bare;
}

export function clearIssues(stepForm) {
  // A <template>'s content is not in the document, so this leaves the server's shell alone.
  document.querySelectorAll(".error-summary").forEach((summary) => summary.remove());
  markTitle(titlePrefix(), false);
  for (const wrapper of stepForm.fields()) {
    const errorId = wrapper.dataset.fieldId + ERROR_SUFFIX;
    wrapper.querySelector(".errorlist")?.remove();
    wrapper.classList.remove("has-error");
    for (const control of stepForm.controls(wrapper)) control.removeAttribute("aria-invalid");
    for (const element of describedElements(stepForm, wrapper)) describedBy(element, errorId, false);
  }
}

function fieldErrorList(wrapper, messages) {
  const list = document.createElement("ul");
  list.className = "errorlist";
  list.id = wrapper.dataset.fieldId + ERROR_SUFFIX;
  for (const message of messages) {
    const item = document.createElement("li");
    item.textContent = message;
    list.append(item);
  }
  return list;
}

// Show ``issues`` ({step, field, code, message}) of this step; return the summary, to focus.
export function showIssues(stepForm, issues) {
  clearIssues(stepForm);
  const byField = new Map();
  const general = [];
  for (const issue of issues) {
    const wrapper = issue.field && stepForm.form.querySelector(`[data-field="${CSS.escape(issue.field)}"]`);
    if (!wrapper) general.push(issue.message);
    else byField.set(wrapper, [...(byField.get(wrapper) ?? []), issue.message]);
  }
  const summary = document.querySelector("template[data-error-summary-template]").content.firstElementChild.cloneNode(true);
  const list = summary.querySelector("ul");
  for (const message of general) {
    const item = document.createElement("li");
    item.textContent = message;
    list.append(item);
  }
  for (const wrapper of stepForm.fields().filter((candidate) => byField.has(candidate))) {
    const messages = byField.get(wrapper);
    const widget = document.getElementById(wrapper.dataset.fieldId);
    widget.before(fieldErrorList(wrapper, messages));
    wrapper.classList.add("has-error");
    for (const control of stepForm.controls(wrapper)) control.setAttribute("aria-invalid", "true");
    for (const element of describedElements(stepForm, wrapper)) describedBy(element, wrapper.dataset.fieldId + ERROR_SUFFIX, true);
    for (const message of messages) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#${focusId(wrapper)}`;
      link.textContent = message;
      item.append(link);
      list.append(item);
    }
  }
  stepForm.form.before(summary);
  markTitle(summary.dataset.textTitlePrefix, true);
  // The summary takes focus (GOV.UK's pattern): it says what is wrong and links to each field.
  return summary;
}
