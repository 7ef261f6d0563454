// Friction the server cannot see by itself (a save that needed retries, a conflict shown), sent to
// the telemetry endpoint as fixed names and numbers. Best effort: a lost event is not retried, and
// keepalive lets it outlive the navigation that often follows.

import { csrfToken } from "./save-client.js";

export function reportEvent(stepForm, name, extra = {}) {
  const url = stepForm.url("events");
  if (!url) return;
  fetch(url, {
    method: "POST", credentials: "same-origin", keepalive: true,
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken(stepForm.form) },
    body: JSON.stringify({ name, step: stepForm.step, ...extra }),
  }).catch(() => {});
}
