// The one sender: drains a user's outbox (outbox.js) from the front, one request at a time, each
// built when it is sent (the current CSRF token, the record's current base revision, its
// Idempotency-Key). Used by the pages and by the service worker; a Web Lock lets only one of them
// drain a user's outbox at a time. Nothing here touches the document.
//
// What an answer does to the record at the front:
// - 2xx: accepted. Deleted, the later records moved onto the revision it returned.
// - no answer, a timeout, 5xx, 429: kept as it is; the caller waits (``retryDelay``) and drains again.
// - 409 revision_conflict: the server names the fields this write would set to another value than
//   they now hold. None on the record's own step (or a write that carries no answers): rebased
//   onto the current revision and sent again. Otherwise the record waits for the user's choice.
// - 400: the server's issues wait on the record (a completion's name the step that blocks it).
// - 401/403: the login was lost, or another user is signed in (``owner_mismatch``).
// - 409 already_completed: nothing will ever change the session again; the outbox is emptied.

import { amend, forgetWrites, markQueued, pending, settle } from "./outbox.js";

export const OWNER_HEADER = "X-Onboarding-User";
export const QUEUED_AFTER = 3; // failed attempts before a write counts as kept on the device
const RETRY_BASE_MS = 400;
const RETRY_MAX_MS = 1_500; // while kept: try again at least every 1.5 s, so recovery is quick
const RETRY_AFTER_CAP_MS = 60_000;
const MAX_REBASES = 3;
const WAITED_MS_MAX = 30 * 24 * 3600 * 1000;
export const DRAIN_LOCK = "onboarding-outbox";

// What an answer means. "unreachable" keeps the record for a later attempt.
export function outcomeOf(status, body = null) {
  if (status === 0 || status >= 500 || status === 429) return "unreachable";
  if (status >= 200 && status < 300) return "ok";
  if (status === 401 || status === 403) return "auth";
  if (status === 409 && body?.code === "already_completed") return "completed";
  if (status === 409 && body?.code === "revision_conflict" && body.current) return "conflict";
  if (status === 422 && body?.code === "idempotency_key_reused") return "key-reused";
  if (status === 400 && body?.issues) return "invalid";
  return "refused";
}

// The wait after ``failures`` failed attempts: exponential backoff with jitter (0.5x-1x), capped,
// or longer if Retry-After (seconds or an HTTP date) asks for it. ``random``/``now``: test seams.
export function retryDelay(failures, retryAfter, { random = Math.random, now = Date.now } = {}) {
  const backoff = Math.min(RETRY_BASE_MS * 2 ** Math.max(failures - 1, 0), RETRY_MAX_MS) * (0.5 + random() / 2);
  const seconds = Number(retryAfter);
  let asked = retryAfter === null || retryAfter === undefined || retryAfter === "" ? 0
    : Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now();
  if (!Number.isFinite(asked)) asked = 0;
  return Math.max(backoff, Math.min(asked, RETRY_AFTER_CAP_MS));
}

// One request; resolve to {status, body, retryAfter}, status 0 when no answer came in ``timeoutMs``.
export async function request(url, { method = "GET", body, headers = {}, timeoutMs = 10_000, keepalive = false } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      method, credentials: "same-origin", cache: "no-store", signal: controller.signal, keepalive,
      headers: { Accept: "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch { /* not JSON: an HTML error page, or nothing */ }
    return { status: response.status, body: data, retryAfter: response.headers.get("Retry-After"), url: response.url };
  } catch {
    return { status: 0, body: null, retryAfter: null };
  } finally {
    clearTimeout(timer);
  }
}

// The request ``record`` makes now.
export function requestFor(record, { urls, token }) {
  const complete = record.action === "complete";
  const body = complete ? { revision: record.base } : { step: record.step, action: record.action, revision: record.base };
  if (record.answers && !complete) body.answers = record.answers;
  return {
    url: complete ? urls.complete : urls.progress,
    method: complete ? "POST" : "PATCH",
    body,
    headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Idempotency-Key": record.key, [OWNER_HEADER]: record.user },
  };
}

// The fields the server's 409 names on the record's own step, with both values; [] means rebase.
export function conflictingFields(record, changedFields, current) {
  if (!record.answers || record.action === "complete" || record.action === "back") return [];
  const theirs = current?.answers?.[record.step] ?? {};
  return (changedFields ?? [])
    .filter((item) => item.step === record.step && item.field in record.answers)
    .map((item) => ({ field: item.field, mine: record.answers[item.field], theirs: theirs[item.field] ?? null }));
}

function report(urls, token, user, name, step, extra = {}) {
  if (!urls.events) return;
  fetch(urls.events, {
    method: "POST", credentials: "same-origin", keepalive: true,
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token, [OWNER_HEADER]: user },
    body: JSON.stringify({ name, step, ...extra }),
  }).catch(() => {});
}

// Send the front record once (rebasing as the server allows); resolve to the outcome.
async function sendFront(record, options) {
  const { urls, csrf, timeoutMs } = options;
  const madeOn = record.base; // a rebase moves it past changes made elsewhere
  for (let rebases = 0; ; rebases++) {
    const token = await csrf();
    const sent = requestFor(record, { urls, token });
    options.onSending?.(record);
    const answer = await request(sent.url, { method: sent.method, body: sent.body, headers: sent.headers, timeoutMs });
    const outcome = outcomeOf(answer.status, answer.body);
    if (outcome === "ok") {
      await settle(record, record.base, answer.body);
      const failures = record.failures ?? 0;
      if (record.queued || failures >= QUEUED_AFTER) {
        report(urls, token, record.user, "save_queued", record.step);
        report(urls, token, record.user, "save_replayed", record.step, { waited_ms: Math.min(Date.now() - record.queuedAt, WAITED_MS_MAX) });
      } else if (failures > 0) {
        report(urls, token, record.user, "save_retried", record.step, { retries: Math.min(failures, 10) });
      }
      return { state: "ok", record, progress: answer.body, madeOn, rebased: record.base !== madeOn };
    }
    if (outcome === "unreachable") {
      const failures = (record.failures ?? 0) + 1;
      const failed = (await amend(record, { failures })) ?? record;
      // After the retries, or with no network at all, the writes are kept on the device.
      const kept = failures >= QUEUED_AFTER || globalThis.navigator?.onLine === false;
      if (kept) await markQueued(record.user);
      return { state: "unreachable", record: { ...failed, queued: kept || failed.queued }, retryAfter: answer.retryAfter };
    }
    if (outcome === "auth") return { state: "auth", record, code: answer.body?.code };
    if (outcome === "completed") {
      await forgetWrites(record.user);
      return { state: "completed", record };
    }
    if (outcome === "key-reused" && rebases < MAX_REBASES) {
      record = (await amend(record, { key: crypto.randomUUID?.() ?? String(Math.random()) })) ?? record;
      continue;
    }
    if (outcome === "conflict") {
      const { current, changed_fields: changed } = answer.body;
      const fields = conflictingFields(record, changed, current);
      if (fields.length) {
        const waiting = (await amend(record, { conflict: { fields, revision: current.revision, current } })) ?? record;
        return { state: "conflict", record: waiting, progress: current };
      }
      if (rebases >= MAX_REBASES) return { state: "unreachable", record, retryAfter: null };
      const rebased = await amend(record, { base: current.revision, key: crypto.randomUUID?.() ?? String(Math.random()) });
      if (!rebased) return { state: "edited", record };
      record = rebased;
      continue;
    }
    // Refused: a draft is dropped (it was only a draft); anything else waits with the server's issues.
    const issues = answer.body?.issues ?? [{ step: record.step, field: null, code: answer.body?.code ?? "refused", message: answer.body?.detail ?? "" }];
    if (record.action === "draft") {
      await settle(record, record.base, null);
      return { state: "dropped", record };
    }
    if (record.action === "complete") {
      await settle(record, record.base, null);
      return { state: "invalid", record, issues, blockingStep: answer.body?.blocking_step ?? null };
    }
    const refused = (await amend(record, { issues, refused: outcome === "refused" })) ?? record;
    return { state: "invalid", record: refused, issues, blockingStep: record.step };
  }
}

async function drainRecords(user, options) {
  let progress = null;
  let sent = 0;
  let moved = false; // a save, skip, back or completion was accepted: the user's place may change
  const accepted = []; // the records sent (their seq): a page acts on the outcome of its own writes
  for (;;) {
    const [record] = await pending(user);
    if (!record) return { state: "empty", sent, progress, moved, accepted };
    if (record.conflict) return { state: "conflict", record, sent, progress };
    if (record.issues) return { state: "invalid", record, issues: record.issues, blockingStep: record.step, sent, progress };
    // Sent only while the browser says this user is signed in (``onboarding_user`` cookie): never
    // under someone else's login, nor after a logout in another tab. (The API checks it too.)
    const signedIn = await options.signedIn?.();
    if (signedIn !== undefined && signedIn !== String(user)) return { state: "auth", record, sent, progress };
    const outcome = await sendFront(record, options);
    if (outcome.state === "edited" || outcome.state === "dropped") continue;
    if (outcome.state !== "ok") return { ...outcome, sent, progress: outcome.progress ?? progress };
    progress = outcome.progress;
    sent += 1;
    accepted.push(record.seq);
    moved ||= record.action !== "draft";
    options.onAccepted?.(outcome);
  }
}

// Drain ``user``'s outbox; resolve to {state, sent, progress, moved, record?, issues?, blockingStep?,
// retryAfter?} with state: empty (all sent), unreachable, conflict, invalid, auth, completed, busy.
// options: {urls: {progress, complete, events}, csrf: async () => token, signedIn: async () => the
// signed-in user's id, null when signed out, undefined when unknown; timeoutMs, onSending, onAccepted}.
export async function drain(user, options) {
  if (!user) return { state: "empty", sent: 0 };
  const run = () => drainRecords(String(user), options);
  if (!globalThis.navigator?.locks) return run();
  return navigator.locks.request(`${DRAIN_LOCK}:${user}`, { ifAvailable: true }, (lock) => (lock ? run() : { state: "busy", sent: 0 }));
}
