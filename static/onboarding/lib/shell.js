// The page shell (/o/offline/): the server renders every step of the user's wizard into it once as
// a <template> (fields, labels, choices, buttons), so the browser can show any step — in the
// shell when a navigation could not reach the server, or in a step page without reloading when
// the server does not have the user's latest answers yet — from the server's own markup, filling
// in only the values it knows. Loaded from the server on every wizard page (and kept in the Cache
// API under a key naming its user); from that copy when the server can't be reached.

import { client } from "./client.js";

let loaded = null;

async function fetchShell() {
  const key = client.shellKey;
  if (document.querySelector("form[data-shell]")) return document; // this page is the shell
  try {
    const response = await fetch(client.urls.shell, { credentials: "same-origin", cache: "no-store" });
    if (response.ok && !response.redirected) {
      const html = await response.text();
      const parsed = new DOMParser().parseFromString(html, "text/html");
      // Only a shell rendered for this page's user is kept or used.
      if (parsed.body.dataset.userId === String(client.user)) {
        if (client.cacheName) {
          const cache = await caches.open(client.cacheName);
          await cache.put(key, new Response(html, { headers: { "Content-Type": "text/html; charset=utf-8" } }));
        }
        return parsed;
      }
    }
  } catch { /* the server cannot be reached: the kept copy */ }
  if (!client.cacheName) return null;
  const kept = await caches.match(key).catch(() => null);
  if (!kept) return null;
  const parsed = new DOMParser().parseFromString(await kept.text(), "text/html");
  return parsed.body.dataset.userId === String(client.user) ? parsed : null;
}

// The shell document (this page if it is the shell), or null if neither the server nor the
// device has one for this user. Fetched once per page, as early as possible.
export function loadShell() {
  loaded ??= fetchShell().catch(() => null);
  return loaded;
}

export class Shell {
  constructor(doc) {
    this.doc = doc;
    this.templates = [...doc.querySelectorAll("template[data-step-template]")];
    this.order = this.templates.map((template) => template.dataset.stepTemplate);
  }

  template(step) {
    return this.templates.find((template) => template.dataset.stepTemplate === step) ?? null;
  }

  title(step) {
    return this.template(step)?.dataset.title ?? step;
  }

  neighbour(step, offset) {
    const index = this.order.indexOf(step);
    return index < 0 ? null : this.order[index + offset] ?? null;
  }

  // The field wrappers of ``step`` as the server rendered them (fresh copies).
  fields(step) {
    const template = this.template(step);
    return template ? [...template.content.querySelector("[data-step-fields]").cloneNode(true).children] : [];
  }

  // A field's label (or legend) text.
  label(step, field) {
    const wrapper = this.fields(step).find((item) => item.dataset.field === field);
    return wrapper?.querySelector("legend, label")?.textContent.trim() ?? field;
  }

  // ``value`` as the wizard shows it: the label of a choice, lists joined, Yes/No, "(empty)".
  display(step, field, value, texts) {
    const wrapper = this.fields(step).find((item) => item.dataset.field === field);
    const labelOf = (item) => {
      const option = wrapper?.querySelector(`option[value="${CSS.escape(String(item))}"]`);
      if (option) return option.textContent.trim();
      const input = wrapper?.querySelector(`input[value="${CSS.escape(String(item))}"]`);
      const label = input && wrapper.querySelector(`label[for="${CSS.escape(input.id)}"]`);
      return label ? label.textContent.trim() : String(item);
    };
    if (typeof value === "boolean") return value ? texts.textYes : texts.textNo;
    const items = (Array.isArray(value) ? value : [value]).filter((item) => item !== null && item !== undefined && String(item).trim() !== "");
    return items.length ? items.map(labelOf).join(", ") : texts.textEmpty;
  }
}
