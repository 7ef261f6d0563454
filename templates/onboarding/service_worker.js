// The offline wizard's service worker (served from /o/sw.js so its scope covers /o/; rendered by
// onboarding/wizard/offline.py, which fills in the version and the precache list).
//
// - Static files: precached on install (hashed names in production, plain ones in DEBUG), then
//   served from the cache, falling back to the network.
// - Wizard pages (navigations under /o/): from the network; when the server cannot be reached
//   (or answers 5xx), the page shell this user's browser kept, into which the page renders the
//   step from the cached manifest (static/onboarding/modules/offline-wizard.js).
// - Background Sync (Chromium): replays the offline queue of whoever is logged in, then tells the
//   open pages. Other browsers have no Background Sync; their pages replay by themselves.
// Caches are named by a digest of their content; activating a new worker deletes the others.

import { replay } from "{{ replay_url }}";
import { queuedUsers } from "{{ store_url }}";

const VERSION = "{{ version }}";
const STATIC_CACHE = `onboarding-static-${VERSION}`;
const PAGES_CACHE = `onboarding-pages-${VERSION}`;
const PRECACHE = {{ precache }};
const STATIC_PREFIX = "{{ static_prefix }}";
const SYNC_TAG = "onboarding-offline-replay";
const URLS = {{ urls }};

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

async function wizardPage(request) {
  try {
    const response = await fetch(request);
    if (response.status < 500) return response;
  } catch { /* the server cannot be reached */ }
  const shell = await caches.match(URLS.shell);
  return shell ?? Response.error();
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

// A service worker has no document.cookie; the Cookie Store API gives it the CSRF cookie.
async function csrfToken() {
  return (await self.cookieStore?.get("csrftoken"))?.value ?? "";
}

async function replayQueues() {
  let unreachable = false;
  for (const user of await queuedUsers()) {
    const outcome = await replay(user, { urls: URLS, csrf: csrfToken, cacheName: PAGES_CACHE });
    unreachable ||= outcome.state === "unreachable";
  }
  for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "onboarding-replayed" });
  if (unreachable) throw new Error("the server cannot be reached yet"); // the browser tries the sync again later
}

self.addEventListener("sync", (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(replayQueues());
});
