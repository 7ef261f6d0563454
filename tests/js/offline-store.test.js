// The device's queue (IndexedDB, here fake-indexeddb): one record per user and step, in step
// order with the completion last; a newer edit replaces its step's record; nothing sent is
// deleted if an edit replaced it meanwhile; one user's records are never another's.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { IDBFactory } from "fake-indexeddb";

import { COMPLETION, amend, forgetSent, forgetUser, keep, queued, queuedCount, queuedUsers, record } from "../../static/onboarding/lib/offline-store.js";

beforeEach(() => {
  globalThis.indexedDB = new IDBFactory(); // a fresh, empty device for every test
});

const save = (step, order, answers, extra = {}) => keep({ user: 7, step, order, action: "save", answers, revision: "r1", ...extra });

describe("the queue's order", () => {
  test("records come back in step order, the completion last, whatever order they were kept in", async () => {
    await keep({ user: 7, step: COMPLETION, action: "complete", revision: "r9" });
    await save("preferences", 4, { theme: "dark" });
    await save("profile", 0, { full_name: "Ada" });
    await save("tools", 2, { tools: ["github"] });

    assert.deepEqual((await queued(7)).map((kept) => kept.step), ["profile", "tools", "preferences", COMPLETION]);
  });
});

describe("replacing a step's record", () => {
  test("a newer edit of a step replaces its record: one record, the latest answers, a new key", async () => {
    const first = await save("profile", 0, { full_name: "Ada" });
    const second = await save("profile", 0, { full_name: "Ada Lovelace" }, { revision: "r2" });

    const records = await queued(7);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0].answers, { full_name: "Ada Lovelace" });
    assert.equal(records[0].baseRevision, "r2");
    assert.notEqual(second.key, first.key);
    assert.equal(records[0].queuedAt, first.queuedAt); // how long it waited counts from the first
  });

  test("a draft after a save keeps the save and takes the draft's answers", async () => {
    await save("profile", 0, { full_name: "Ada" });
    await keep({ user: 7, step: "profile", order: 0, action: "draft", answers: { full_name: "Ada L" }, revision: "r1" });

    const kept = await record(7, "profile");
    assert.equal(kept.action, "save");
    assert.deepEqual(kept.answers, { full_name: "Ada L" });
  });

  test("a skip without answers keeps the answers it replaces", async () => {
    await save("tools", 2, { tools: ["github"] });
    await keep({ user: 7, step: "tools", order: 2, action: "skip", revision: "r1" });

    const kept = await record(7, "tools");
    assert.equal(kept.action, "skip");
    assert.deepEqual(kept.answers, { tools: ["github"] });
  });
});

describe("sent records", () => {
  test("a confirmed record is deleted", async () => {
    const kept = await save("profile", 0, { full_name: "Ada" });

    await forgetSent(kept);

    assert.equal(await queuedCount(7), 0);
  });

  test("a record edited while its previous version was in flight is not deleted when that version is confirmed", async () => {
    const sent = await save("profile", 0, { full_name: "Ada" });
    await save("profile", 0, { full_name: "Ada Lovelace" });

    await forgetSent(sent);

    assert.deepEqual((await record(7, "profile")).answers, { full_name: "Ada Lovelace" });
  });

  test("amending a record that was replaced meanwhile changes nothing", async () => {
    const stale = await save("profile", 0, { full_name: "Ada" });
    await save("profile", 0, { full_name: "Ada Lovelace" });

    assert.equal(await amend(stale, { conflict: { fields: [] } }), null);
    assert.equal((await record(7, "profile")).conflict, null);
  });
});

describe("users sharing a device", () => {
  test("one user's records are never listed for another", async () => {
    await save("profile", 0, { full_name: "Ada" });
    await keep({ user: 8, step: "profile", order: 0, action: "save", answers: { full_name: "Grace" }, revision: "g1" });

    assert.deepEqual((await queued(8)).map((kept) => kept.answers.full_name), ["Grace"]);
    assert.deepEqual((await queuedUsers()).sort(), ["7", "8"]);
  });

  test("forgetting a user deletes their records only", async () => {
    await save("profile", 0, { full_name: "Ada" });
    await keep({ user: 8, step: "profile", order: 0, action: "save", answers: { full_name: "Grace" }, revision: "g1" });

    await forgetUser(7);

    assert.equal(await queuedCount(7), 0);
    assert.equal(await queuedCount(8), 1);
  });
});
