// Replaying the device's queue: the reconciliation rules (answers compared as a person would,
// a conflict only where the server's changed_fields meet a kept answer with another value) and
// the replay itself against a scripted server: in order, each request built when it is sent,
// rebased past changes elsewhere that touch nothing kept, never sent under another user.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { IDBFactory } from "fake-indexeddb";

import { conflictingFields, replay, sameAnswer } from "../../static/onboarding/lib/offline-replay.js";
import { COMPLETION, keep, queued } from "../../static/onboarding/lib/offline-store.js";
import { answer, fakeFetch } from "./support.js";

const URLS = {
  shell: "/o/offline/", progress: "/api/users/me/onboarding-progress", complete: "/api/onboarding/complete",
  events: "/api/onboarding/events", login: "/accounts/login/", dashboard: "/dashboard/",
};

beforeEach(() => {
  globalThis.indexedDB = new IDBFactory();
  globalThis.navigator = {}; // no Web Locks here: the replay runs without one
});

describe("sameAnswer", () => {
  test("text is compared trimmed", () => assert.ok(sameAnswer(" Ada ", "Ada")));
  test("lists are compared in any order", () => assert.ok(sameAnswer(["slack", "github"], ["github", "slack"])));
  test("comma-separated text equals the list it names", () => assert.ok(sameAnswer("Babbage, Menabrea", ["Menabrea", "Babbage"])));
  test("empty values are alike", () => {
    assert.ok(sameAnswer(null, ""));
    assert.ok(sameAnswer(false, undefined));
  });
  test("different values differ", () => {
    assert.ok(!sameAnswer("Ada", "Grace"));
    assert.ok(!sameAnswer(true, false));
    assert.ok(!sameAnswer(["github"], ["github", "slack"]));
  });
});

describe("conflictingFields", () => {
  const kept = { step: "profile", action: "save", answers: { full_name: "Ada King", role: "design", job_title: "Countess" } };
  const current = { answers: { profile: { full_name: "Ada Lovelace", role: "design", job_title: "Analyst" }, tools: { tools: ["jira"] } } };

  test("only fields of the kept step that it holds with another value conflict, with both values", () => {
    const changed = [
      { step: "profile", field: "full_name" }, // changed elsewhere, kept differently: a conflict
      { step: "profile", field: "role" }, // changed elsewhere to the kept value: no conflict
      { step: "tools", field: "tools" }, // another step: merges
    ];

    assert.deepEqual(conflictingFields(kept, changed, current), [{ field: "full_name", server: "Ada Lovelace", device: "Ada King" }]);
  });

  test("a field the server did not name is the user's own edit, not a conflict", () => {
    assert.deepEqual(conflictingFields(kept, [], current), []);
  });

  test("a skip conflicts with nothing", () => {
    assert.deepEqual(conflictingFields({ ...kept, action: "skip" }, [{ step: "profile", field: "full_name" }], current), []);
  });
});

// The server as the replay meets it: who is logged in, then the writes.
function server({ user = "7", onWrite }) {
  let revision = 0;
  return fakeFetch((request, requests) => {
    if (request.url === URLS.shell) return answer(200, null, { url: `http://site${URLS.shell}`, text: `<body data-user-id="${user}">` });
    if (request.url === URLS.events) return answer(201, {});
    const writes = requests.filter((item) => item.url !== URLS.shell && item.url !== URLS.events);
    const reply = onWrite?.(request, writes.length);
    if (reply) return reply;
    revision += 1;
    return answer(200, { revision: `s${revision}`, answers: {} });
  });
}

const writesOf = (requests) => requests.filter((request) => request.url === URLS.progress || request.url === URLS.complete);
const options = (tokens = ["t1", "t2", "t3", "t4"]) => ({ urls: URLS, csrf: async () => tokens.shift() });

describe("replay", () => {
  test("kept writes are sent in step order, each built when sent, and deleted once confirmed", async () => {
    await keep({ user: 7, step: COMPLETION, action: "complete", revision: "r1" });
    await keep({ user: 7, step: "work-profile", order: 1, action: "save", answers: { team_size: "2-10" }, revision: "r1" });
    await keep({ user: 7, step: "profile", order: 0, action: "save", answers: { full_name: "Ada" }, revision: "r1" });
    const requests = server({});

    const result = await replay("7", options());

    assert.equal(result.state, "done");
    assert.equal(result.replayed, 3);
    const writes = writesOf(requests);
    assert.deepEqual(writes.map((request) => request.body.step ?? "complete"), ["profile", "work-profile", "complete"]);
    assert.deepEqual(writes.map((request) => request.body.revision), ["r1", "s1", "s2"]); // the previous answer's revision
    assert.deepEqual(writes.map((request) => request.headers["X-CSRFToken"]), ["t1", "t2", "t3"]);
    assert.deepEqual(await queued("7"), []);
  });

  test("a 409 naming only fields the record does not hold with another value rebases and sends again", async () => {
    await keep({ user: 7, step: "profile", order: 0, action: "save", answers: { full_name: "Ada" }, revision: "r1" });
    const current = { revision: "r5", answers: { tools: { tools: ["jira"] } } };
    const requests = server({
      onWrite: (request, count) => (count === 1
        ? answer(409, { code: "revision_conflict", current, changed_fields: [{ step: "tools", field: "tools" }] })
        : null),
    });

    const result = await replay("7", options());

    assert.equal(result.state, "done");
    assert.deepEqual(writesOf(requests).map((request) => request.body.revision), ["r1", "r5"]);
    const [first, second] = writesOf(requests);
    assert.notEqual(first.headers["Idempotency-Key"], second.headers["Idempotency-Key"]); // a new body, a new key
  });

  test("a 409 naming a field kept with another value stops with the choice and keeps the record", async () => {
    await keep({ user: 7, step: "profile", order: 0, action: "save", answers: { full_name: "Ada King" }, revision: "r1" });
    await keep({ user: 7, step: "work-profile", order: 1, action: "save", answers: { team_size: "2-10" }, revision: "r1" });
    const current = { revision: "r5", answers: { profile: { full_name: "Ada Lovelace" } } };
    const requests = server({
      onWrite: () => answer(409, { code: "revision_conflict", current, changed_fields: [{ step: "profile", field: "full_name" }] }),
    });

    const result = await replay("7", options());

    assert.equal(result.state, "conflict");
    assert.deepEqual(result.kept.conflict, { fields: [{ field: "full_name", server: "Ada Lovelace", device: "Ada King" }], revision: "r5" });
    assert.equal(writesOf(requests).length, 1); // the later step waits for the choice
    assert.equal((await queued("7")).length, 2);
  });

  test("a queue is never sent while another user is logged in", async () => {
    await keep({ user: 7, step: "profile", order: 0, action: "save", answers: { full_name: "Ada" }, revision: "r1" });
    const requests = server({ user: "8" });

    const result = await replay("7", options());

    assert.equal(result.state, "other-user");
    assert.equal(writesOf(requests).length, 0);
    assert.equal((await queued("7")).length, 1);
  });

  test("a server that cannot be reached leaves every record kept", async () => {
    await keep({ user: 7, step: "profile", order: 0, action: "save", answers: { full_name: "Ada" }, revision: "r1" });
    const requests = server({ onWrite: () => answer(503) });

    const result = await replay("7", options());

    assert.equal(result.state, "unreachable");
    assert.equal(writesOf(requests).length, 1);
    assert.equal((await queued("7")).length, 1);
  });
});
