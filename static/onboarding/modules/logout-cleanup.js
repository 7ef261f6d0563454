// The Log out button: deletes what this device kept for the user, then logs out through the
// server. Offline (or with the server down) the page says the logout has not reached the server
// yet, and it is sent first thing the next time the site can be reached (lib/logout.js). Logging
// out is never blocked: if anything here fails, the form is posted as without JavaScript.

import { forgetDevice, rememberLogout, sendLogout, showLogoutPending } from "../lib/logout.js";

export function init(form) {
  form.addEventListener("submit", async (event) => {
    if (form.dataset.cleared) return;
    event.preventDefault();
    try {
      const user = document.body.dataset.userId;
      await forgetDevice(user);
      const next = await sendLogout(form.action);
      if (next !== null) {
        window.location.assign(next);
        return;
      }
      await rememberLogout(form.action, user);
      showLogoutPending();
    } catch (error) {
      console.error("onboarding: logging out through the page failed; posting the form", error);
      form.dataset.cleared = "true";
      form.submit();
    }
  });
}
