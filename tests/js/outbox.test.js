// The device outbox: one log per user in the order the writes were made; drafts coalesce; a
// refused record is replaced where it stands; an accepted write moves the later ones onto the
// revision it returned; a record edited while in flight is not deleted by that answer.
import "fake-indexeddb/auto";

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";
import { IDBFactory } from "fake-indexeddb";

import { amend, forgetUser, lastProgress, markQueued, pending, put, readDevice, settle, writeDevice } from "../../static/onboarding/lib/outbox.js";

beforeEach(() => {
  globalThis.indexedDB = new IDBFactory();
});

describe("put", () => {
  test("keeps each user's writes apart, in the order they were made", async () => {
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada" }, base: "r1" });
    await put(8, { step: "profile", action: "save", answers: { full_name: "Bob" }, base: "b1" });
    await put(7, { step: "work-profile", action: "skip", base: "r1" });
    await put(7, { step: "work-profile", action: "back", base: "r1" });
    assert.deepEqual((await pending(7)).map((record) => `${record.step}:${record.action}`), ["profile:save", "work-profile:skip", "work-profile:back"]);
    assert.deepEqual((await pending(8)).map((record) => record.answers.full_name), ["Bob"]);
  });

  test("a draft or save right after a draft of the same step replaces it", async () => {
    await put(7, { step: "profile", action: "draft", answers: { full_name: "A" }, base: "r1" });
    await put(7, { step: "profile", action: "draft", answers: { full_name: "Ad" }, base: "r1" });
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada" }, base: "r1" });
    const records = await pending(7);
    assert.equal(records.length, 1);
    assert.equal(records[0].action, "save");
    assert.equal(records[0].answers.full_name, "Ada");
  });

  test("a new write of a step the server refused replaces that record where it stands", async () => {
    const refused = await put(7, { step: "profile", action: "save", answers: { full_name: "" }, base: "r1" });
    await amend(refused, { issues: [{ step: "profile", field: "full_name", code: "required", message: "Required" }] });
    await put(7, { step: "work-profile", action: "save", answers: { team_size: "2-10" }, base: "r1" });
    await put(7, { step: "profile", action: "save", answers: { full_name: "Ada" }, base: "r2" });
    const records = await pending(7);
    assert.deepEqual(records.map((record) => record.step), ["profile", "work-profile"]);
    assert.equal(records[0].issues, null);
    assert.equal(records[0].base, "r1"); // its base stays: a choice still owed is asked again
  });

  test("a write made behind kept writes is kept too", async () => {
    await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    await markQueued(7);
    const later = await put(7, { step: "work-profile", action: "save", answers: {}, base: "r1" });
    assert.equal(later.queued, true);
  });
});

describe("settle", () => {
  test("deletes the accepted record and moves the records made on its base to the new revision", async () => {
    const first = await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    await put(7, { step: "work-profile", action: "save", answers: {}, base: "r1" });
    await put(7, { step: "tools", action: "skip", base: "other" });
    await settle(first, "r1", { revision: "r2", answers: {} });
    const records = await pending(7);
    assert.deepEqual(records.map((record) => [record.step, record.base]), [["work-profile", "r2"], ["tools", "other"]]);
    assert.equal((await lastProgress(7)).revision, "r2");
  });

  test("a record edited while it was in flight is kept, to be sent on the new revision", async () => {
    const sent = await put(7, { step: "profile", action: "draft", answers: { full_name: "Ad" }, base: "r1" });
    await put(7, { step: "profile", action: "draft", answers: { full_name: "Ada" }, base: "r1" }); // replaces it
    await settle(sent, "r1", { revision: "r2" });
    const [kept] = await pending(7);
    assert.equal(kept.answers.full_name, "Ada");
    assert.equal(kept.base, "r2");
  });

  test("amend refuses a record that changed since it was read", async () => {
    const read = await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    await amend(read, { base: "r2" });
    assert.equal(await amend(read, { base: "r3" }), null);
  });
});

describe("forgetUser", () => {
  test("deletes the user's writes and progress copy, not another user's", async () => {
    await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    await put(8, { step: "profile", action: "save", answers: {}, base: "b1" });
    await forgetUser(7);
    assert.deepEqual(await pending(7), []);
    assert.equal((await pending(8)).length, 1);
  });

  test("a logout still to send survives the database being deleted", async () => {
    await put(7, { step: "profile", action: "save", answers: {}, base: "r1" });
    await writeDevice("logout", { url: "/accounts/logout/", user: "7" });
    await forgetUser(7);
    assert.equal((await readDevice("logout")).url, "/accounts/logout/");
  });
});
