// Started on the status element, which names the user and the URLs: configures the page's client
// (lib/client.js), claims the device for this user (another user's cached pages are deleted),
// registers the service worker, keeps the server's last progress on the device, and starts the
// sender. A logout pressed while the server could not be reached was sent first (init.js).

import { client } from "../lib/client.js";
import { request } from "../lib/sender.js";
import { loadShell } from "../lib/shell.js";
import { setSyncState } from "../lib/sync-state.js";

async function prepareOffline() {
  if (!("serviceWorker" in navigator) || !client.cacheName) return;
  try {
    const scope = new URL(".", new URL(client.urls.serviceWorker, location.href)).pathname;
    await navigator.serviceWorker.register(client.urls.serviceWorker, { type: "module", scope });
  } catch (error) {
    console.warn("onboarding: the wizard will not open offline in this browser", error);
  }
}

async function keepServerProgress() {
  const answer = await request(client.urls.progress, { timeoutMs: client.timeoutMs });
  if (answer.status === 200 && answer.body?.revision) client.keepProgress(answer.body);
}

async function start(element) {
  client.configure(element);
  if (!client.available) return setSyncState("idle"); // nowhere to keep anything: the plain states

  loadShell(); // first: the network may go away any moment
  await client.claimDevice();
  await client.showState();
  client.kick();
  await keepServerProgress();
  await loadShell();
  await prepareOffline();
  document.body.dataset.offlineReady = "true";
}

export function init(element) {
  start(element).catch((error) => console.error("onboarding: the outbox did not start", error));
}
