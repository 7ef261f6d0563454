// The one sender against a scripted server: in order, each request built when it is sent, one
// Idempotency-Key per body, rebased when the server's 409 names nothing on the record's step, the
// choice kept when it does, the backoff policy, and the status derived from the outbox.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { IDBFactory } from "fake-indexeddb";

import { deriveState } from "../../static/onboarding/lib/client.js";
import { pending, put } from "../../static/onboarding/lib/outbox.js";
import { OWNER_HEADER, conflictingFields, drain, outcomeOf, retryDelay } from "../../static/onboarding/lib/sender.js";
import { answer, fakeFetch } from "./support.js";

const URLS = { progress: "/api/users/me/onboarding-progress", complete: "/api/onboarding/complete", events: "/api/onboarding/events" };

beforeEach(() => {
  globalThis.indexedDB = new IDBFactory();
  globalThis.navigator = {}; // no Web Locks, online
});

function server(onWrite) {
  let revision = 0;
  return fakeFetch((request, requests) => {
    if (request.url === URLS.events) return answer(204);
    const writes = requests.filter((item) => item.url !== URLS.events);
    const reply = onWrite?.(request, writes.length);
    if (reply) return reply;
    revision += 1;
    return answer(200, { revision: `s${revision}`, state: "in_progress", answers: {} });
  });
}

const writesOf = (requests) => requests.filter((request) => request.url !== URLS.events);
const options = (tokens = ["t1", "t2", "t3", "t4", "t5", "t6"]) => ({ urls: URLS, csrf: async () => tokens.shift(), timeoutMs: 1000 });

describe("drain", () => {
  test("sends in order, each request built when sent, and deletes each once accepted", async () => {
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada" }, base: "r1" });
    await put(7, { step: "work-profile", action: "save", answers: { team_size: "2-10" }, base: "r1" });
    await put(7, { step: "work-profile", action: "complete", base: "r1" });
    const requests = server();

    const outcome = await drain("7", options());

    assert.equal(outcome.state, "empty");
    assert.equal(outcome.sent, 3);
    const writes = writesOf(requests);
    assert.deepEqual(writes.map((request) => request.body.step ?? "complete"), ["profile", "work-profile", "complete"]);
    assert.deepEqual(writes.map((request) => request.body.revision), ["r1", "s1", "s2"]); // moved onto each answer
    assert.deepEqual(writes.map((request) => request.headers["X-CSRFToken"]), ["t1", "t2", "t3"]);
    assert.deepEqual(writes.map((request) => request.headers[OWNER_HEADER]), ["7", "7", "7"]);
    assert.equal(new Set(writes.map((request) => request.headers["Idempotency-Key"])).size, 3);
    assert.deepEqual(await pending(7), []);
  });

  test("an unreachable server keeps every record and counts the failure; the retry reuses the key", async () => {
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada" }, base: "r1" });
    let down = true;
    const requests = server(() => (down ? answer(503) : null));

    const first = await drain("7", options());
    assert.equal(first.state, "unreachable");
    assert.equal(first.record.failures, 1);
    down = false;
    const second = await drain("7", options());

    assert.equal(second.state, "empty");
    const [a, b] = writesOf(requests);
    assert.equal(a.headers["Idempotency-Key"], b.headers["Idempotency-Key"]); // the same body, the same key
  });

  test("a 409 naming nothing on the record's step rebases and sends again with a new key", async () => {
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada" }, base: "r1" });
    const current = { revision: "r5", answers: { tools: { tools: ["jira"] } } };
    const requests = server((request, count) => (count === 1
      ? answer(409, { code: "revision_conflict", current, changed_fields: [{ step: "tools", field: "tools" }] })
      : null));

    const outcome = await drain("7", options());

    assert.equal(outcome.state, "empty");
    assert.equal(outcome.accepted.length, 1);
    const [first, second] = writesOf(requests);
    assert.deepEqual([first.body.revision, second.body.revision], ["r1", "r5"]);
    assert.notEqual(first.headers["Idempotency-Key"], second.headers["Idempotency-Key"]);
  });

  test("a 409 naming the record's fields stops with both values and keeps the later records waiting", async () => {
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada King", role: "data" }, base: "r1" });
    await put(7, { step: "work-profile", action: "save", answers: { team_size: "2-10" }, base: "r1" });
    const current = { revision: "r5", answers: { profile: { full_name: "Ada Lovelace", role: "data" } } };
    const requests = server(() => answer(409, { code: "revision_conflict", current, changed_fields: [{ step: "profile", field: "full_name" }] }));

    const outcome = await drain("7", options());

    assert.equal(outcome.state, "conflict");
    assert.deepEqual(outcome.record.conflict.fields, [{ field: "full_name", mine: "Ada King", theirs: "Ada Lovelace" }]);
    assert.equal(outcome.record.conflict.revision, "r5");
    assert.equal(writesOf(requests).length, 1);
    assert.equal((await pending(7)).length, 2);
  });

  test("a refused save waits with the server's issues; a refused draft is dropped", async () => {
    await put(7, { step: "profile", action: "draft", answers: { nope: 1 }, base: "r1" });
    await put(7, { step: "work-profile", action: "save", answers: {}, base: "r1" });
    const issues = [{ step: "work-profile", field: "team_size", code: "required", message: "Required" }];
    server((request) => (request.body.action === "draft" ? answer(413, { code: "request_too_large" }) : answer(400, { code: "validation_failed", issues })));

    const outcome = await drain("7", options());

    assert.equal(outcome.state, "invalid");
    const records = await pending(7);
    assert.deepEqual(records.map((record) => record.step), ["work-profile"]);
    assert.deepEqual(records[0].issues, issues);
  });

  test("a completed session empties the outbox; a lost login keeps it", async () => {
    await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    server(() => answer(401, { code: "not_authenticated" }));
    assert.equal((await drain("7", options())).state, "auth");
    assert.equal((await pending(7)).length, 1);
    server(() => answer(409, { code: "already_completed" }));
    assert.equal((await drain("7", options())).state, "completed");
    assert.deepEqual(await pending(7), []);
  });

  test("a write kept on the device reports save_queued and save_replayed once sent", async () => {
    await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    let down = true;
    const requests = server(() => (down ? answer(503) : null));
    for (let n = 0; n < 3; n++) await drain("7", options());
    down = false;
    await drain("7", options());
    await new Promise((resolve) => setTimeout(resolve, 10));
    const events = requests.filter((request) => request.url === URLS.events).map((request) => request.body.name);
    assert.deepEqual(events, ["save_queued", "save_replayed"]);
  });
});

describe("the rules", () => {
  test("answers: network errors, 5xx and 429 are retried, the rest is final", () => {
    assert.equal(outcomeOf(0), "unreachable");
    assert.equal(outcomeOf(502), "unreachable");
    assert.equal(outcomeOf(429), "unreachable");
    assert.equal(outcomeOf(200), "ok");
    assert.equal(outcomeOf(403), "auth");
    assert.equal(outcomeOf(413), "refused");
    assert.equal(outcomeOf(409, { code: "already_completed" }), "completed");
  });

  test("backoff doubles with jitter, is capped at 1.5 s, and honours Retry-After up to 60 s", () => {
    const half = { random: () => 0 };
    assert.equal(retryDelay(1, null, half), 200);
    assert.equal(retryDelay(2, null, half), 400);
    assert.equal(retryDelay(9, null, { random: () => 1 }), 1500);
    assert.equal(retryDelay(1, "2", half), 2000);
    assert.equal(retryDelay(1, "3600", half), 60_000);
    assert.equal(retryDelay(1, new Date(5_000).toUTCString(), { random: () => 0, now: () => 0 }), 5000);
  });

  test("conflicting fields are the server's, on the record's own step, with both values", () => {
    const record = { step: "profile", action: "save", answers: { full_name: "Ada", role: "data" } };
    const changed = [{ step: "profile", field: "full_name" }, { step: "tools", field: "tools" }];
    assert.deepEqual(conflictingFields(record, changed, { answers: { profile: { full_name: "Grace" } } }), [{ field: "full_name", mine: "Ada", theirs: "Grace" }]);
    assert.deepEqual(conflictingFields({ step: "profile", action: "back", answers: null }, changed, {}), []);
  });

  test("the status is never idle or saved while the outbox holds a write", () => {
    const record = { step: "profile", action: "save" };
    assert.deepEqual(deriveState({ records: [] }), ["idle", ""]);
    assert.deepEqual(deriveState({ records: [], accepted: "draft" }), ["saved", "draft"]);
    assert.deepEqual(deriveState({ records: [record], accepted: "save" }), ["saving", ""]);
    assert.deepEqual(deriveState({ records: [{ ...record, failures: 1 }] }), ["retrying", ""]);
    assert.deepEqual(deriveState({ records: [{ ...record, failures: 3 }] }), ["queued", ""]);
    assert.deepEqual(deriveState({ records: [record, { step: "workspace", action: "complete" }], online: false }), ["queued", "finish"]);
    assert.deepEqual(deriveState({ records: [record], auth: true }), ["auth-required", "queued"]);
    assert.deepEqual(deriveState({ records: [{ ...record, conflict: { fields: [] } }] }), ["conflict", "queued"]);
    assert.deepEqual(deriveState({ records: [{ ...record, issues: [{}] }] }), ["failed", "invalid"]);
    assert.deepEqual(deriveState({ records: [{ ...record, issues: [{}], refused: true }] }), ["failed", "refused"]);
  });
});
