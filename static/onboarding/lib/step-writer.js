// One write of the step to the API (save, skip, back, draft, complete), shared by the modules.
//
// The request is built when the tab's lane reaches it (current revision), keeps one
// Idempotency-Key while its body stays the same (also when the user presses the button again
// after a failure), and rebases by itself onto a session that changed only outside this step:
// the server's changed_fields say which fields moved, and if none is on this step nothing the
// user sees is stale. On success the new revision is adopted and announced to the other tabs.

import { fetchChanges, showChanges } from "./conflict-view.js";
import { newIdempotencyKey } from "./save-client.js";
import { setSyncState } from "./sync-state.js";
import { reportEvent } from "./telemetry.js";

export const WRITTEN_EVENT = "onboarding:written";
export const SUBMITTING_EVENT = "onboarding:submitting"; // Continue/Skip/Back/Finish pressed: drafts wait
const MAX_REBASES = 2;

function keyFor(page, url, request) {
  page.idempotencyKeys ??= new Map();
  const fingerprint = `${url} ${JSON.stringify(request)}`;
  if (!page.idempotencyKeys.has(fingerprint)) page.idempotencyKeys.set(fingerprint, newIdempotencyKey());
  return [fingerprint, page.idempotencyKeys.get(fingerprint)];
}

export function touchesStep(page, changedFields) {
  return (changedFields ?? []).some((item) => item.step === page.step);
}

// Send ``body`` (without revision) and resolve to the final {outcome, status, body}.
export function sendWrite(page, { url, method = "PATCH", body }) {
  return page.client.enqueue(async () => {
    for (let rebases = 0; ; rebases++) {
      const request = { ...body, revision: page.revision };
      const [fingerprint, key] = keyFor(page, url, request);
      const answer = await page.client.send({ url, method, body: request, idempotencyKey: key, form: page.form });
      if (answer.retries) reportEvent(page, "save_retried", { retries: answer.retries });
      if (answer.outcome !== "unreachable") page.idempotencyKeys.delete(fingerprint); // kept to resend as-is
      const current = answer.body?.current;
      if (answer.outcome === "conflict" && answer.body?.code === "revision_conflict" && current
          && !touchesStep(page, answer.body.changed_fields) && rebases < MAX_REBASES) {
        page.revision = current.revision;
        continue;
      }
      if (answer.outcome === "ok") {
        page.revision = answer.body.revision;
        document.dispatchEvent(new CustomEvent(WRITTEN_EVENT, { detail: { progress: answer.body, action: body.action } }));
      }
      answer.sentRevision = request.revision;
      return answer;
    }
  });
}

// Say why a write did not go through: a lost login, an unreachable server, or a refusal.
export function reportFailure(answer) {
  if (answer.outcome === "auth") setSyncState("auth-required");
  else setSyncState("failed", answer.outcome === "refused" ? "refused" : "");
}

// Show what changed elsewhere since ``since`` (the server's own notice); keep what was typed and
// take the current revision for drafts. Return the notice.
export async function showConflict(page, { since, currentRevision, changes: fetched }) {
  const changes = fetched ?? await fetchChanges(page, since);
  if (!changes) {
    setSyncState("failed");
    return null;
  }
  const notice = showChanges(changes.element);
  // The revision whose values the user still has in front of them: a save sends it, so that the
  // server names what really differs (and the page asks) or, if nothing does, the save rebases.
  page.conflictBase ??= since;
  page.revision = changes.revision ?? currentRevision;
  page.inConflict = true;
  setSyncState("conflict");
  reportEvent(page, "conflict_shown");
  return notice;
}
