// Sends what the offline queue kept, in step order, when the server can be reached again. Run by
// the pages (on load, on "online", on becoming visible, while probing) and by the service worker
// (Background Sync); a Web Lock lets only one of them replay a user's queue at a time.
//
// Each request is built when it is sent: the current CSRF cookie, and the revision the previous
// replayed write returned (the record's own base revision for the first, so a session that moved
// elsewhere answers 409 and says which fields changed). A record is deleted only after the server
// confirmed it. Its Idempotency-Key changes only with its body, so a replay whose answer was lost
// gets the first answer back instead of applying twice.
//
// First the page shell is fetched: it says who is logged in (a queue never replays under another
// user), refreshes the device's copy of the shell, and tells a lost login (redirect to the login
// page) or a completed session (redirect to the dashboard) apart.

import { COMPLETION, amend, forgetSent, forgetUser, newKey, queued } from "./offline-store.js";

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_REBASES = 3;
const WAITED_MS_MAX = 30 * 24 * 3600 * 1000;
export const REPLAY_LOCK = "onboarding-offline-replay";

async function request(url, { method = "GET", body, headers = {} } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method, credentials: "same-origin", cache: "no-store", signal: controller.signal,
      headers: { Accept: "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response;
  } catch {
    return null; // the server could not be reached
  } finally {
    clearTimeout(timer);
  }
}

// Who the server says is logged in: {state: "ok", user} or why not (unreachable, auth, completed).
async function whoIsLoggedIn({ urls, cacheName }) {
  const response = await request(urls.shell, { headers: { Accept: "text/html" } });
  if (!response || response.status >= 500 || response.status === 429) return { state: "unreachable" };
  const path = new URL(response.url).pathname;
  if (response.redirected && path.startsWith(urls.login)) return { state: "auth" };
  if (response.redirected && path.startsWith(urls.dashboard)) return { state: "completed" };
  if (!response.ok) return { state: "auth" };
  if (cacheName) await (await caches.open(cacheName)).put(urls.shell, response.clone());
  const user = /data-user-id="(\d+)"/.exec(await response.text())?.[1];
  return user ? { state: "ok", user } : { state: "auth" };
}

// Answers compared as a person would: trimmed text, lists in any order, "a, b" equal to [a, b].
function comparable(value) {
  if (Array.isArray(value)) return value.map((item) => String(item).trim()).filter(Boolean).sort().join("\n");
  if (value === null || value === undefined || value === false) return "";
  return String(value).trim();
}

export function sameAnswer(device, server) {
  if (comparable(device) === comparable(server)) return true;
  const asList = (value) => (typeof value === "string" ? value.split(/[,\n]/) : value);
  return comparable(asList(device)) === comparable(asList(server));
}

// The fields of ``kept`` that ``changed`` (the server's changed_fields) touch with another value.
export function conflictingFields(kept, changed, current) {
  if (!kept.answers || kept.action === "skip") return [];
  const server = current?.answers?.[kept.step] ?? {};
  return (changed ?? [])
    .filter((item) => item.step === kept.step && item.field in kept.answers)
    .filter((item) => !sameAnswer(kept.answers[item.field], server[item.field]))
    .map((item) => ({ field: item.field, server: server[item.field] ?? null, device: kept.answers[item.field] }));
}

function report(urls, token, name, step, extra = {}) {
  if (!urls.events) return;
  fetch(urls.events, {
    method: "POST", credentials: "same-origin", keepalive: true,
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ name, step, ...extra }),
  }).catch(() => {});
}

async function keepProgressCopy(cacheName, urls, progress) {
  if (!cacheName || !progress) return;
  const cache = await caches.open(cacheName);
  await cache.put(urls.progress, new Response(JSON.stringify(progress), { headers: { "Content-Type": "application/json" } }));
}

// Send one record; resolve to {state, progress?, kept} (state: ok, conflict, invalid, auth,
// unreachable, completed). ``chain`` carries the revision and the foreign changes seen so far.
async function send(kept, chain, { urls, csrf, cacheName }) {
  for (let rebases = 0; ; rebases++) {
    const revision = chain.revision ?? kept.sentRevision ?? kept.baseRevision;
    if (revision !== kept.sentRevision) {
      // A new body: a new Idempotency-Key, stored before sending so a lost answer replays as-is.
      kept = (await amend(kept, { sentRevision: revision, key: newKey() })) ?? kept;
      if (kept.sentRevision !== revision) return { state: "edited", kept };
    }
    const token = await csrf();
    const isCompletion = kept.step === COMPLETION;
    const body = isCompletion ? { revision } : { step: kept.step, action: kept.action, revision };
    if (!isCompletion && kept.action !== "skip") body.answers = kept.answers ?? {};
    const response = await request(isCompletion ? urls.complete : urls.progress, {
      method: isCompletion ? "POST" : "PATCH", body,
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Idempotency-Key": kept.key },
    });
    if (!response || response.status >= 500 || response.status === 429) return { state: "unreachable", kept };
    let answer = null;
    try { answer = await response.json(); } catch { /* not JSON */ }
    if (response.ok) {
      await forgetSent(kept);
      await keepProgressCopy(cacheName, urls, answer);
      const step = isCompletion ? kept.eventStep ?? "workspace" : kept.step;
      report(urls, token, "save_queued", step);
      report(urls, token, "save_replayed", step, { waited_ms: Math.min(Date.now() - kept.queuedAt, WAITED_MS_MAX) });
      return { state: "ok", progress: answer, kept };
    }
    if (response.status === 401 || response.status === 403) return { state: "auth", kept };
    if (response.status === 409 && answer?.code === "already_completed") return { state: "completed", kept };
    if (response.status === 409 && answer?.code === "revision_conflict" && answer.current) {
      chain.foreign.push({ changed: answer.changed_fields ?? [], current: answer.current });
      const fields = conflictingFields(kept, answer.changed_fields, answer.current);
      if (fields.length) return { state: "conflict", kept: await amend(kept, { conflict: { fields, revision: answer.current.revision } }) ?? kept };
      if (rebases >= MAX_REBASES) return { state: "unreachable", kept };
      chain.revision = answer.current.revision; // nothing of this step moved: rebase and send again
      continue;
    }
    if (response.status === 422 && answer?.code === "idempotency_key_reused" && rebases < MAX_REBASES) {
      kept = (await amend(kept, { sentRevision: null })) ?? kept;
      continue;
    }
    // 400 (or another refusal): the issues wait for the user on that step; a completion's issues
    // name the step that blocks it, and Finish is pressed again from there.
    const issues = answer?.issues ?? [{ step: kept.step, field: null, code: answer?.code ?? "refused", message: answer?.detail ?? "The server refused this answer." }];
    if (isCompletion) {
      await forgetSent(kept);
      return { state: "invalid", kept, issues, blockingStep: answer?.blocking_step ?? null };
    }
    return { state: "invalid", kept: await amend(kept, { issues }) ?? kept, issues, blockingStep: kept.step };
  }
}

async function replayRecords(user, options) {
  const records = await queued(user);
  if (!records.length && !options.force) return { state: "empty", replayed: 0 };
  const who = await whoIsLoggedIn(options);
  if (who.state === "completed") {
    await forgetUser(user); // nothing can change a completed session any more
    return { state: "completed", replayed: 0 };
  }
  if (who.state !== "ok") return { state: who.state, replayed: 0 };
  if (who.user !== String(user)) return { state: "other-user", replayed: 0 };
  const chain = { revision: null, foreign: [] };
  let progress = null;
  let replayed = 0;
  let moved = false; // a save, skip or completion went through: the user's place may change
  for (let kept of records) {
    if (kept.conflict) return { state: "conflict", kept, replayed, progress };
    if (kept.issues) return { state: "invalid", kept, issues: kept.issues, blockingStep: kept.step, replayed, progress };
    // Changed elsewhere before an earlier record's 409 told us: the same choice as for that record.
    for (const { changed, current } of chain.foreign) {
      const fields = conflictingFields(kept, changed, current);
      if (fields.length) {
        kept = (await amend(kept, { conflict: { fields, revision: chain.revision ?? current.revision } })) ?? kept;
        return { state: "conflict", kept, replayed, progress };
      }
    }
    const outcome = await send(kept, chain, options);
    if (outcome.state === "edited") return replayRecords(user, options); // an edit arrived: start over
    if (outcome.state === "completed") {
      await forgetUser(user);
      return { state: "completed", replayed };
    }
    if (outcome.state !== "ok") return { ...outcome, replayed, progress };
    progress = outcome.progress;
    chain.revision = progress.revision;
    replayed += 1;
    moved ||= kept.action !== "draft";
  }
  return { state: "done", replayed, progress, moved };
}

// Replay ``user``'s queue; resolve to {state, replayed, progress?, moved?, kept?, issues?, blockingStep?}.
// options: {urls: {shell, progress, complete, events, login, dashboard}, csrf: async () => token,
// cacheName (where the shell and progress copies go), force (ask the server even if nothing is kept)}.
export async function replay(user, options) {
  if (!user) return { state: "empty", replayed: 0 };
  if (!navigator.locks) return replayRecords(user, options);
  return navigator.locks.request(`${REPLAY_LOCK}:${user}`, { ifAvailable: true }, (lock) => (
    lock ? replayRecords(user, options) : { state: "busy", replayed: 0 }
  ));
}
