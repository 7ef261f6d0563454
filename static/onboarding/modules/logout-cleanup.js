// Logging out deletes what this device kept for the user: the offline queue (IndexedDB), the
// offline caches and what the tab kept in sessionStorage, before the logout form is sent, so it
// also happens when the server cannot be reached. (The logout response's Clear-Site-Data does it
// again for the whole origin when the server answers.) If the cleanup fails or hangs, the form
// is sent anyway: logging out must never be blocked.

import { forgetUser } from "../lib/offline-store.js";

const CLEANUP_TIMEOUT_MS = 3_000;

async function forgetDevice(user) {
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
  await Promise.allSettled(work);
}

export function init(form) {
  form.addEventListener("submit", async (event) => {
    if (form.dataset.cleared) return;
    event.preventDefault();
    const timeout = new Promise((resolve) => setTimeout(resolve, CLEANUP_TIMEOUT_MS));
    await Promise.race([forgetDevice(document.body.dataset.userId), timeout]).catch(() => {});
    form.dataset.cleared = "true";
    form.submit();
  });
}
