// How modules tell the status element what is happening: one event on the document.
// States shown by the status element: idle, saving, saved, retrying, queued, conflict, auth-required, failed.
// ``reason`` picks a more precise wording the server rendered (data-text-<state>-<reason>).

export const SYNC_STATE_EVENT = "onboarding:sync-state";

export function setSyncState(state, reason = "") {
  document.dispatchEvent(new CustomEvent(SYNC_STATE_EVENT, { detail: { state, reason } }));
}
