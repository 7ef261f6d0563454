// What this tab keeps in sessionStorage across a navigation: Finish's issues for the blocking
// step, and "focus the heading". (What was typed is kept in the device outbox, per user.)
// Storage may be off or full: then nothing is kept.

const PREFIX = "onboarding:";

function read(key) {
  try { return JSON.parse(sessionStorage.getItem(PREFIX + key) ?? "null"); } catch { return null; }
}

function write(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(PREFIX + key);
    else sessionStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch { /* storage disabled or full */ }
}

function take(key) {
  const value = read(key);
  write(key, null);
  return value;
}

export const pendingIssues = {
  keep: (step, issues) => write(`issues:${step}`, issues),
  take: (step) => take(`issues:${step}`),
};

export const headingFocus = {
  request: () => write("focus-heading", true),
  take: () => take("focus-heading") === true,
};
