// The Log out button: deletes what this device kept for the user, then logs out through the
// server. Offline (or with the server down) the page says the logout has not reached the server
// yet, and it is sent first thing the next time the site can be reached (lib/logout.js). Logging
// out is never blocked: if anything here fails, the form is posted as without JavaScript.

import { client } from "../lib/client.js";
import { pending } from "../lib/outbox.js";
import { finishPendingLogout, forgetDevice, rememberLogout, sendLogout, showLogoutPending } from "../lib/logout.js";

const LOGOUT_RETRY_MS = 2_000;

// Offline: try the kept logout again when the network returns and every few seconds; it goes first.
function retryLogout() {
  const retry = () => finishPendingLogout().then((leaving) => leaving || setTimeout(retry, LOGOUT_RETRY_MS));
  window.addEventListener("online", () => finishPendingLogout());
  setTimeout(retry, LOGOUT_RETRY_MS);
}

export function init(form) {
  form.addEventListener("submit", async (event) => {
    if (form.dataset.cleared) return;
    event.preventDefault();
    try {
      const user = document.body.dataset.userId;
      // Other tabs of this user keep what the outbox holds and ask for a login (lib/client.js):
      // told before it is deleted, with what it held, and again once the server has answered.
      const records = user && window.indexedDB ? await pending(user).catch(() => []) : [];
      client.stop();
      const channel = "BroadcastChannel" in window ? new BroadcastChannel("onboarding-outbox") : null;
      channel?.postMessage({ type: "logging-out", user, records });
      await forgetDevice(user);
      const next = await sendLogout(form.action);
      channel?.postMessage({ type: "logged-out", user });
      if (next !== null) {
        window.location.assign(next);
        return;
      }
      await rememberLogout(form.action, user);
      showLogoutPending();
      retryLogout();
    } catch (error) {
      console.error("onboarding: logging out through the page failed; posting the form", error);
      form.dataset.cleared = "true";
      form.submit();
    }
  });
}
