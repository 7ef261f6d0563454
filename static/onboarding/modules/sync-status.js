// The status element (role="status", data-sync-state): shows what the other modules report, in
// the words the server rendered into its data-text-* attributes. Announced politely.

import { SYNC_STATE_EVENT } from "../lib/sync-state.js";

const camel = (text) => text.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());

export function init(element) {
  const text = element.querySelector("[data-sync-text]");
  const login = element.querySelector("[data-sync-login]");
  // Shown with the first state the client derives, never with the server's placeholder.
  document.addEventListener(SYNC_STATE_EVENT, ({ detail: { state, reason } }) => {
    const precise = reason ? element.dataset[camel(`text-${state}-${reason}`)] : undefined;
    element.dataset.syncState = state;
    text.textContent = precise ?? element.dataset[camel(`text-${state}`)] ?? state;
    // Issues on the page: the error summary, which takes focus, says so; announcing it here too
    // would read the same error twice. The words stay visible.
    text.setAttribute("aria-hidden", String(state === "failed" && reason === "invalid"));
    login.hidden = state !== "auth-required";
    element.hidden = false;
  });
}
