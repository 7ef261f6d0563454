// Logging out deletes what this device kept for the user (their outbox and progress copy, the
// cached pages, the tab's sessionStorage) and then asks the server. If the server cannot be
// reached, the page says the logout has not reached it, and the device remembers it: the next
// time any page of the site loads (init.js) — or the service worker handles a navigation — it
// is sent first, before anything else happens.

import { forgetUser, readDevice, writeDevice } from "./outbox.js";

const CLEANUP_TIMEOUT_MS = 3_000;
const LOGOUT_TIMEOUT_MS = 5_000;

function csrfToken() {
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
}

export async function forgetDevice(user) {
  const work = [];
  if (user && window.indexedDB) work.push(forgetUser(user));
  if ("caches" in window) {
    work.push(caches.keys().then((names) => Promise.all(
      names.filter((name) => name.startsWith("onboarding-")).map((name) => caches.delete(name)),
    )));
  }
  try {
    for (const key of Object.keys(sessionStorage)) if (key.startsWith("onboarding:")) sessionStorage.removeItem(key);
  } catch { /* storage disabled */ }
  const timeout = new Promise((resolve) => setTimeout(resolve, CLEANUP_TIMEOUT_MS));
  await Promise.race([Promise.allSettled(work), timeout]);
}

// POST the logout; resolve to the URL the server sent the browser to, or null if it can't be reached.
export async function sendLogout(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), LOGOUT_TIMEOUT_MS);
  try {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", signal: controller.signal,
      headers: { "X-CSRFToken": csrfToken() },
    });
    return response.status < 500 ? response.url || "/" : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

export function rememberLogout(url, user) {
  return writeDevice("logout", { url, user, at: Date.now() }).catch(() => {});
}

export function showLogoutPending() {
  document.querySelector("[data-logout-pending]")?.removeAttribute("hidden");
}

// A logout the server has not had yet: send it now. Resolve to true when the page is leaving
// for where the server sent it (nothing else should start on this page).
export async function finishPendingLogout() {
  if (!window.indexedDB) return false;
  const pending = await readDevice("logout").catch(() => null);
  if (!pending) return false;
  const next = await sendLogout(pending.url);
  if (next === null) {
    showLogoutPending();
    return false;
  }
  await writeDevice("logout", null).catch(() => {});
  if (pending.user) await forgetUser(pending.user).catch(() => {}); // and the database, if nobody else's is left
  if (new URL(next, location.href).pathname === location.pathname) return false;
  window.location.assign(next);
  return true;
}
