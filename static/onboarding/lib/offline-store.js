// The offline queue in IndexedDB (through idb): one record per user and step, holding the step's
// latest answers and action, the revision they were based on and an Idempotency-Key, plus one
// completion record (Finish pressed while the server could not be reached).
//
// A newer edit of a step replaces its record: the server gets the latest answers, not a pile of
// stale requests. A record is deleted only if it is still the one that was sent (its ``stamp``
// unchanged), so an edit made while its previous version was in flight is not lost.
// Used by the pages and by the service worker: nothing here touches the document.

import { deleteDB, openDB } from "../../vendor/idb/idb.js";

const DATABASE = "onboarding-offline";
const QUEUE = "queue";
export const COMPLETION = "__completion__"; // the completion record's step: after every step
const COMPLETION_ORDER = 1_000_000;

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function open() {
  return openDB(DATABASE, 1, {
    upgrade(db) {
      db.createObjectStore(QUEUE, { keyPath: ["user", "step"] });
    },
  });
}

async function using(work) {
  const db = await open();
  try {
    return await work(db);
  } finally {
    db.close(); // never hold the database open: a logout may delete it
  }
}

const ofUser = (user) => IDBKeyRange.bound([user, ""], [user, "\uffff"]);

// Every record of ``user``, in step order (the completion last).
export function queued(user) {
  return using(async (db) => (await db.getAll(QUEUE, ofUser(String(user)))).sort((a, b) => a.order - b.order));
}

export function queuedCount(user) {
  return using((db) => db.count(QUEUE, ofUser(String(user))));
}

// The users who have records (the service worker replays for whoever is logged in among them).
export function queuedUsers() {
  return using(async (db) => [...new Set((await db.getAllKeys(QUEUE)).map(([user]) => user))]);
}

export function record(user, step) {
  return using((db) => db.get(QUEUE, [String(user), step]));
}

// Keep a write of ``step``: its answers replace the record's. A draft after a save or skip keeps
// the save or skip (the step was finished; the draft only changes its answers).
export function keep({ user, step, order, action, answers, revision }) {
  return using(async (db) => {
    const tx = db.transaction(QUEUE, "readwrite");
    const existing = await tx.store.get([String(user), step]);
    const now = Date.now();
    const kept = {
      user: String(user), step, order: step === COMPLETION ? COMPLETION_ORDER : order,
      action: action === "draft" && existing && existing.action !== "draft" ? existing.action : action,
      answers: answers ?? existing?.answers ?? null,
      baseRevision: revision, sentRevision: null, key: newKey(),
      queuedAt: existing?.queuedAt ?? now, stamp: newKey(), conflict: null, issues: null,
    };
    await tx.store.put(kept);
    await tx.done;
    return kept;
  });
}

// Change fields of ``kept`` if it is still the stored version; return the new record or null.
export function amend(kept, changes) {
  return using(async (db) => {
    const tx = db.transaction(QUEUE, "readwrite");
    const current = await tx.store.get([kept.user, kept.step]);
    if (!current || current.stamp !== kept.stamp) return null;
    const amended = { ...current, ...changes };
    await tx.store.put(amended);
    await tx.done;
    return amended;
  });
}

// Delete ``kept`` once the server confirmed it, unless a newer edit replaced it meanwhile.
export function forgetSent(kept) {
  return using(async (db) => {
    const tx = db.transaction(QUEUE, "readwrite");
    const current = await tx.store.get([kept.user, kept.step]);
    if (current?.stamp === kept.stamp) await tx.store.delete([kept.user, kept.step]);
    await tx.done;
  });
}

// Delete every record of ``user``; with nobody else's left, the database itself.
export async function forgetUser(user) {
  const left = await using(async (db) => {
    await db.delete(QUEUE, ofUser(String(user)));
    return db.count(QUEUE);
  });
  if (left === 0) await deleteDB(DATABASE);
}
