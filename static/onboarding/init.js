// Starts the browser client: every element with data-module="name ..." gets those modules.
// Imported statically, so a module that fails to load stops them all and the page stays the
// server-rendered one that works without JavaScript; a module that throws on start stops alone.
// A logout pressed while the server could not be reached is sent before anything else.

import { finishPendingLogout } from "./lib/logout.js";
import * as autosave from "./modules/autosave.js";
import * as conditionalReveal from "./modules/conditional-reveal.js";
import * as copyButton from "./modules/copy-button.js";
import * as errorSummary from "./modules/error-summary.js";
import * as logoutCleanup from "./modules/logout-cleanup.js";
import * as outbox from "./modules/outbox.js";
import * as syncStatus from "./modules/sync-status.js";
import * as tabSync from "./modules/tab-sync.js";
import * as timezoneGuess from "./modules/timezone-guess.js";
import * as wizardForm from "./modules/wizard-form.js";

// In start order: the status element listens before anything reports to it, and the outbox
// knows the user before the form modules ask it anything; the timezone guess is in place before
// autosave and tab-sync read the form's values.
const MODULES = [
  ["sync-status", syncStatus], ["outbox", outbox],
  ["timezone-guess", timezoneGuess], ["conditional-reveal", conditionalReveal],
  ["autosave", autosave], ["tab-sync", tabSync], ["wizard-form", wizardForm], ["logout-cleanup", logoutCleanup],
  ["error-summary", errorSummary], ["copy-button", copyButton],
];

function start() {
  for (const [name, module] of MODULES) {
    for (const element of document.querySelectorAll("[data-module]")) {
      if (!element.dataset.module.split(/\s+/).includes(name)) continue;
      try {
        module.init(element);
      } catch (error) {
        console.error(`onboarding: module ${name} did not start`, error);
      }
    }
  }
}

finishPendingLogout().then((leaving) => leaving || start(), () => start());
