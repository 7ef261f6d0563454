// The save client's retry policy: which answers are retried, the backoff schedule with jitter,
// Retry-After honoured and capped, one Idempotency-Key and a fresh CSRF token per attempt.
import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { SaveClient, outcomeOf, retryDelay } from "../../static/onboarding/lib/save-client.js";
import { answer, fakeFetch, setCookie } from "./support.js";

const WRITE = { url: "/api/users/me/onboarding-progress", method: "PATCH", body: { step: "profile" }, idempotencyKey: "k-1" };

function client() {
  const waits = [];
  const retrying = [];
  const saveClient = new SaveClient({ onRetrying: (event) => retrying.push(event), sleep: async (ms) => { waits.push(ms); } });
  return { saveClient, waits, retrying };
}

beforeEach(() => setCookie("csrftoken=first"));

describe("outcomeOf", () => {
  test("a network failure, a 5xx and a 429 are unreachable (retried, then kept on the device)", () => {
    for (const status of [0, 500, 502, 503, 504, 429]) assert.equal(outcomeOf(status), "unreachable", status);
  });

  test("every other answer is final", () => {
    assert.equal(outcomeOf(200), "ok");
    assert.equal(outcomeOf(400), "invalid");
    assert.equal(outcomeOf(401), "auth");
    assert.equal(outcomeOf(403), "auth");
    assert.equal(outcomeOf(409), "conflict");
    assert.equal(outcomeOf(404), "refused");
    assert.equal(outcomeOf(422), "refused");
  });
});

describe("retryDelay", () => {
  test("the backoff doubles with each attempt", () => {
    const middle = { random: () => 0.5 };
    assert.deepEqual([1, 2, 3].map((n) => retryDelay(n, null, middle)), [400, 800, 1600]);
  });

  test("the jitter keeps each wait between half and one and a half times the backoff", () => {
    assert.equal(retryDelay(2, null, { random: () => 0 }), 400);
    assert.equal(retryDelay(2, null, { random: () => 0.999999 }), 800 * 1.499999);
  });

  test("a Retry-After in seconds longer than the backoff is honoured", () => {
    assert.equal(retryDelay(1, "3", { random: () => 0.5 }), 3000);
  });

  test("a Retry-After shorter than the backoff does not shorten it", () => {
    assert.equal(retryDelay(2, "0", { random: () => 0.5 }), 800);
  });

  test("a Retry-After as an HTTP date waits until then", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    const delay = retryDelay(1, "Thu, 01 Jan 2026 00:00:05 GMT", { random: () => 0.5, now: () => now });
    assert.equal(delay, 5000);
  });

  test("a Retry-After of more than a minute is capped at one", () => {
    assert.equal(retryDelay(1, "3600", { random: () => 0.5 }), 60_000);
  });

  test("an unreadable Retry-After falls back to the backoff", () => {
    assert.equal(retryDelay(1, "soon", { random: () => 0.5 }), 400);
  });
});

describe("SaveClient.send", () => {
  test("a 503 is retried until the server accepts, waiting as Retry-After asks", async () => {
    const statuses = [503, 503, 200];
    const requests = fakeFetch(() => {
      const status = statuses.shift();
      return answer(status, { revision: "r2" }, { headers: status === 503 ? { "Retry-After": "2" } : {} });
    });
    const { saveClient, waits, retrying } = client();

    const result = await saveClient.send(WRITE);

    assert.equal(result.outcome, "ok");
    assert.equal(result.retries, 2);
    assert.equal(requests.length, 3);
    assert.deepEqual(waits, [2000, 2000]);
    assert.deepEqual(retrying.map((event) => event.attempt), [2, 3]);
  });

  test("it gives up after three attempts in all and says the server was unreachable", async () => {
    const requests = fakeFetch(() => answer(503));
    const { saveClient, waits } = client();

    const result = await saveClient.send(WRITE);

    assert.equal(result.outcome, "unreachable");
    assert.equal(requests.length, 3);
    assert.equal(waits.length, 2);
  });

  test("a refused connection is retried like a 5xx", async () => {
    let calls = 0;
    fakeFetch(() => {
      calls += 1;
      if (calls === 1) throw new TypeError("Failed to fetch");
      return answer(200, { revision: "r2" });
    });
    const { saveClient } = client();

    const result = await saveClient.send(WRITE);

    assert.equal(result.outcome, "ok");
    assert.equal(result.retries, 1);
  });

  test("a 400 is final: no retry", async () => {
    const requests = fakeFetch(() => answer(400, { code: "validation_failed", issues: [] }));
    const { saveClient, waits } = client();

    const result = await saveClient.send(WRITE);

    assert.equal(result.outcome, "invalid");
    assert.equal(requests.length, 1);
    assert.deepEqual(waits, []);
  });

  test("every attempt carries the same Idempotency-Key and the CSRF token current at that moment", async () => {
    const statuses = [502, 200];
    const requests = fakeFetch(() => answer(statuses.shift(), {}));
    const saveClient = new SaveClient({ sleep: async () => setCookie("csrftoken=rotated") });

    await saveClient.send(WRITE);

    assert.deepEqual(requests.map((request) => request.headers["Idempotency-Key"]), ["k-1", "k-1"]);
    assert.deepEqual(requests.map((request) => request.headers["X-CSRFToken"]), ["first", "rotated"]);
  });
});

describe("SaveClient.enqueue", () => {
  test("writes of one tab run one at a time, in the order queued, also after a failure", async () => {
    const { saveClient } = client();
    const ran = [];
    const slow = () => new Promise((resolve) => setTimeout(resolve, 5));

    const first = saveClient.enqueue(async () => { ran.push("first:start"); await slow(); ran.push("first:end"); throw new Error("lost"); });
    const second = saveClient.enqueue(async () => { ran.push("second"); return "ok"; });

    await assert.rejects(first, /lost/);
    assert.equal(await second, "ok");
    assert.deepEqual(ran, ["first:start", "first:end", "second"]);
  });
});
