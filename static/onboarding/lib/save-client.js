// Sends the wizard's writes to the JSON API, one at a time per tab, with retries.
//
// A write that fails on the network, with a 5xx or with a 429 is tried again with exponential
// backoff and jitter (3 attempts in all, Retry-After honoured); every other answer is final.
// Each request is built when its turn comes (current CSRF token, current revision), and the
// Idempotency-Key of one logical save stays the same across its retries, so a retry whose first
// attempt did commit gets the first answer back instead of a conflict.

const ATTEMPTS = 3;
const RETRY_BASE_MS = 400;
const RETRY_AFTER_CAP_MS = 60_000;
const REQUEST_TIMEOUT_MS = 15_000;

// What an answer means to the page. "unreachable" is where an offline queue takes over.
export function outcomeOf(status) {
  if (status === 0 || status >= 500 || status === 429) return "unreachable";
  if (status >= 200 && status < 300) return "ok";
  if (status === 400) return "invalid";
  if (status === 401 || status === 403) return "auth";
  if (status === 409) return "conflict";
  return "refused";
}

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function csrfToken(form) {
  // The cookie is the current token even after a login in another tab rotated it.
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return form?.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
}

// The wait before attempt ``attempt + 1``: the backoff with jitter, or longer if Retry-After
// (seconds or an HTTP date) asks for it, capped. ``random`` and ``now`` are seams for the unit tests.
export function retryDelay(attempt, retryAfter, { random = Math.random, now = Date.now } = {}) {
  const backoff = RETRY_BASE_MS * 2 ** (attempt - 1) * (0.5 + random()); // jitter: 0.5x-1.5x
  const seconds = Number(retryAfter);
  let asked = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter ?? "") - now();
  if (!Number.isFinite(asked)) asked = 0;
  return Math.max(backoff, Math.min(asked, RETRY_AFTER_CAP_MS));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function attempt({ url, method, body, headers }) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store", signal: controller.signal,
    });
    let data = null;
    try { data = await response.json(); } catch { /* not JSON: an HTML error page or nothing */ }
    return { status: response.status, body: data, retryAfter: response.headers.get("Retry-After") };
  } catch {
    return { status: 0, body: null, retryAfter: null }; // the server could not be reached
  } finally {
    clearTimeout(timer);
  }
}

export class SaveClient {
  // ``sleep`` waits between attempts (a seam for the unit tests, which record the schedule).
  constructor({ onRetrying, sleep: wait = sleep } = {}) {
    this.onRetrying = onRetrying ?? (() => {});
    this.sleep = wait;
    this.lane = Promise.resolve();
  }

  // Run ``task`` after every write queued before it: a tab never has two writes in flight.
  enqueue(task) {
    const run = this.lane.then(task, task);
    this.lane = run.catch(() => {});
    return run;
  }

  // Send one logical write; resolve to {outcome, status, body, retries}. Headers are built for
  // every attempt, so each carries the current CSRF token.
  async send({ url, method, body, idempotencyKey, form }) {
    let retries = 0;
    for (let n = 1; ; n++) {
      const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken(form) };
      if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
      const answer = await attempt({ url, method, body, headers });
      const outcome = outcomeOf(answer.status);
      if (outcome !== "unreachable" || n >= ATTEMPTS) return { ...answer, outcome, retries };
      retries += 1;
      this.onRetrying({ attempt: n + 1, status: answer.status });
      await this.sleep(retryDelay(n, answer.retryAfter));
    }
  }
}

export async function getJSON(url) {
  const answer = await attempt({ url, method: "GET", headers: { Accept: "application/json" } });
  return { ...answer, outcome: outcomeOf(answer.status) };
}
