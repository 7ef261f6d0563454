// The device outbox (IndexedDB, through idb): every write of the wizard — save, draft, skip, back,
// complete — is put here first and deleted only once the server has accepted it. One log per
// user, in the order the user made the writes; the sender (sender.js) drains it from the front.
//
// A record: {seq, user, step, action, answers, base, key, queuedAt, stamp, conflict, issues}.
// ``base`` is the server revision the write was made against; when an earlier write of the same
// device is accepted, the records made on the same base move to the revision it returned (they
// were made on top of it). ``key`` is the Idempotency-Key of the request the record makes now; it
// changes only when the request's body does. ``stamp`` changes on every edit, so a record edited
// while its previous version was in flight is not deleted by that answer.
//
// Besides the log the database keeps small facts about the device: ``progress:<user>`` (the
// server's last answer, to render steps and summaries when it can't be asked), ``user`` (whose
// pages this browser showed last: the service worker serves cached pages only to them) and
// ``logout`` (a logout pressed while the server could not be reached: done first when it can).
// Used by the pages and by the service worker: nothing here touches the document.

import { deleteDB, openDB } from "../../vendor/idb/idb.js";

const DATABASE = "onboarding-outbox";
const WRITES = "writes";
const DEVICE = "device";

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function open() {
  return openDB(DATABASE, 1, {
    upgrade(db) {
      db.createObjectStore(WRITES, { keyPath: "seq", autoIncrement: true }).createIndex("user", "user");
      db.createObjectStore(DEVICE, { keyPath: "name" });
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

// Every record of ``user`` in the order they were made.
export function pending(user) {
  return using((db) => db.getAllFromIndex(WRITES, "user", String(user)));
}

// The users who have records (the service worker's Background Sync drains them).
export function usersWithWrites() {
  return using(async (db) => [...new Set((await db.getAll(WRITES)).map((record) => record.user))]);
}

// Put a write of ``user``; return the stored record. A draft or save right after a draft of the
// same step replaces it (the server needs the latest answers, not each keystroke); a write of a
// step whose record the server refused (issues) or that waits on a choice (conflict) replaces that
// record where it stands, so the order of the log holds.
export function put(user, { step, action, answers = null, base, key = null }) {
  return using(async (db) => {
    const tx = db.transaction(WRITES, "readwrite");
    const records = await tx.store.index("user").getAll(String(user));
    const last = records.at(-1);
    const stuck = records.find((record) => record.step === step && (record.issues || record.conflict));
    const replaced = stuck ?? (last && last.step === step && last.action === "draft" && ["draft", "save"].includes(action) ? last : null);
    const now = Date.now();
    // Kept behind writes that could not be sent: kept on the device too (for the status and the funnel).
    const queued = records.some((other) => other.queued);
    const record = {
      ...(replaced ? { seq: replaced.seq } : {}),
      user: String(user), step, action, answers,
      // Replacing a record keeps its base: a choice still owed is asked again by the server's 409.
      base: replaced?.base ?? base,
      key: key ?? newKey(), queuedAt: replaced?.queuedAt ?? now, stamp: newKey(), conflict: null, issues: null,
      queued: queued || Boolean(replaced?.queued),
    };
    record.seq = await tx.store.put(record);
    await tx.done;
    return record;
  });
}

// Change ``record`` if it is still the stored version (same stamp); return the new one or null.
export function amend(record, changes) {
  return using(async (db) => {
    const tx = db.transaction(WRITES, "readwrite");
    const current = await tx.store.get(record.seq);
    if (!current || current.stamp !== record.stamp) return null;
    const amended = { ...current, ...changes, stamp: newKey() };
    await tx.store.put(amended);
    await tx.done;
    return amended;
  });
}

// The server accepted ``record`` (sent on ``sentBase``) and answered ``progress``: delete it
// (unless edited meanwhile: then its next version is sent on the new revision), move the records
// made on the same base to the revision it returned, and keep the answer as the server's last.
// ``progress`` null: the record is dropped, nothing else changes.
export function settle(record, sentBase, progress) {
  return using(async (db) => {
    const tx = db.transaction([WRITES, DEVICE], "readwrite");
    const writes = tx.objectStore(WRITES);
    for (const other of await writes.index("user").getAll(record.user)) {
      if (other.seq === record.seq && other.stamp === record.stamp) {
        await writes.delete(other.seq);
      } else if (progress && (other.base === sentBase || other.base === record.base)) {
        await writes.put({ ...other, base: progress.revision, key: newKey() });
      }
    }
    if (progress) await tx.objectStore(DEVICE).put({ name: `progress:${record.user}`, progress });
    await tx.done;
  });
}

// The writes of ``user`` could not be sent after the retries: all of them are kept on the device
// now (what the status says, and what the staff funnel counts as queued once they are sent).
export function markQueued(user) {
  return using(async (db) => {
    const tx = db.transaction(WRITES, "readwrite");
    for (const record of await tx.store.index("user").getAll(String(user))) {
      if (!record.queued) await tx.store.put({ ...record, queued: true });
    }
    await tx.done;
  });
}

// Delete the records of ``user`` the server will never take (its session was completed elsewhere).
export function forgetWrites(user) {
  return using(async (db) => {
    const tx = db.transaction(WRITES, "readwrite");
    for (const key of await tx.store.index("user").getAllKeys(String(user))) await tx.store.delete(key);
    await tx.done;
  });
}

export function readDevice(name) {
  return using(async (db) => (await db.get(DEVICE, name)) ?? null);
}

export function writeDevice(name, value) {
  return using((db) => (value === null ? db.delete(DEVICE, name) : db.put(DEVICE, { ...value, name })));
}

export async function lastProgress(user) {
  return (await readDevice(`progress:${user}`))?.progress ?? null;
}

export function keepProgress(user, progress) {
  return writeDevice(`progress:${user}`, { progress });
}

// Delete everything kept for ``user`` (a logout); with nobody else's writes left, the database.
export async function forgetUser(user) {
  const left = await using(async (db) => {
    const tx = db.transaction([WRITES, DEVICE], "readwrite");
    const writes = tx.objectStore(WRITES);
    for (const key of await writes.index("user").getAllKeys(String(user))) await writes.delete(key);
    await tx.objectStore(DEVICE).delete(`progress:${user}`);
    const count = await writes.count();
    await tx.done;
    return count;
  });
  if (left === 0) {
    const logout = await readDevice("logout");
    await deleteDB(DATABASE);
    if (logout) await writeDevice("logout", logout); // a logout still to send survives the wipe
  }
}
