// Friction the server cannot see by itself (a conflict shown to the user), sent to the telemetry
// endpoint as a fixed name and the step. Best effort: a lost event is not retried, and keepalive
// lets it outlive the navigation that often follows. The sender reports its own events.

import { OWNER_HEADER } from "./sender.js";
import { client, csrfToken } from "./client.js";

export function reportEvent(form, step, name, extra = {}) {
  const url = form?.dataset.eventsUrl ?? client.urls?.events;
  if (!url) return;
  fetch(url, {
    method: "POST", credentials: "same-origin", keepalive: true,
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken(), [OWNER_HEADER]: String(client.user ?? "") },
    body: JSON.stringify({ name, step, ...extra }),
  }).catch(() => {});
}
