// The "changed somewhere else" notice, rendered by the server (the 409 page's own template) for
// what changed since the revision this tab saw, and put where the server-rendered page has it.

// Return {element, steps} for the changes since ``since``, or null if the server can't say.
export async function fetchChanges(stepForm, since) {
  const url = `${stepForm.url("changes")}?since=${encodeURIComponent(since)}`;
  let html;
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } });
    if (!response.ok) return null;
    html = await response.text();
  } catch {
    return null;
  }
  const element = new DOMParser().parseFromString(html, "text/html").querySelector("[data-conflict]");
  if (!element) return null; // e.g. redirected to the dashboard: the session was completed meanwhile
  const changed = [...element.querySelectorAll("[data-field]")].map((item) => ({ step: item.dataset.step, field: item.dataset.field }));
  return { element: document.importNode(element, true), changed, revision: element.dataset.revision };
}

export function showChanges(element) {
  const slot = document.querySelector("[data-conflict-slot]");
  slot.replaceChildren(element);
  return element;
}

export function clearChanges() {
  document.querySelector("[data-conflict-slot]")?.replaceChildren();
}
