// The wizard's service worker (served from /o/sw.js so its scope covers /o/; rendered by
// onboarding/wizard/offline.py, which fills in the version and the precache list).
//
// - A logout pressed while the server could not be reached is sent before any navigation.
// - Static files: precached on install (hashed names in production, plain ones in DEBUG), then
//   served from the cache, falling back to the network.
// - Wizard pages (navigations under /o/): from the network; when the server cannot be reached
//   (or answers 5xx), the page shell kept for the user whose pages this browser showed last —
//   never a copy kept for anyone else. The page then shows the step from the shell's templates.
// - Background Sync (Chromium): drains the outbox with the same sender as the pages, then tells
//   the open pages. It is a bonus: the pages send by themselves on load, online, focus and a timer.
// Caches are named by a digest of their content; activating a new worker deletes the others.

import { drain } from "{{ sender_url }}";
import { readDevice, usersWithWrites, writeDevice } from "{{ outbox_url }}";

const VERSION = "{{ version }}";
const STATIC_CACHE = `onboarding-static-${VERSION}`;
const PAGES_CACHE = `onboarding-pages-${VERSION}`;
const PRECACHE = {{ precache }};
const STATIC_PREFIX = "{{ static_prefix }}";
const SYNC_TAG = "onboarding-outbox";
const URLS = {{ urls }};
const CLIENT_TIMEOUT_MS = {{ client_timeout_ms }}; // ONBOARDING_CLIENT_TIMEOUT_SECONDS, as the pages use it

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith("onboarding-") && name !== STATIC_CACHE && name !== PAGES_CACHE)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

// A service worker has no document.cookie; the Cookie Store API gives it the CSRF cookie.
async function csrfToken() {
  return (await self.cookieStore?.get("csrftoken"))?.value ?? "";
}

async function finishPendingLogout() {
  const pending = await readDevice("logout").catch(() => null);
  if (!pending) return;
  try {
    const response = await fetch(pending.url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": await csrfToken() } });
    if (response.status < 500) await writeDevice("logout", null);
  } catch { /* still unreachable: the page says so */ }
}

async function keptShell() {
  const device = await readDevice("user").catch(() => null);
  if (!device?.id) return null;
  return (await caches.match(`${URLS.shell}?user=${encodeURIComponent(device.id)}`)) ?? null;
}

async function wizardPage(request) {
  await finishPendingLogout();
  try {
    const response = await fetch(request);
    if (response.status < 500) return response;
  } catch { /* the server cannot be reached */ }
  return (await keptShell()) ?? Response.error();
}

async function staticFile(request) {
  const cached = await caches.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) (await caches.open(STATIC_CACHE)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") event.respondWith(wizardPage(request));
  else if (url.pathname.startsWith(STATIC_PREFIX)) event.respondWith(staticFile(request));
});

async function drainAll() {
  await finishPendingLogout();
  let unreachable = false;
  for (const user of await usersWithWrites()) {
    // The server refuses a write whose owner is not the signed-in user: nobody's outbox is sent under another's login.
    const signedIn = async () => (self.cookieStore ? (await self.cookieStore.get("onboarding_user"))?.value ?? null : undefined);
    const outcome = await drain(user, { urls: URLS, csrf: csrfToken, signedIn, timeoutMs: CLIENT_TIMEOUT_MS });
    unreachable ||= outcome.state === "unreachable";
  }
  for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "onboarding-drained" });
  if (unreachable) throw new Error("the server cannot be reached yet"); // the browser tries the sync again later
}

self.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(drainAll());
});
