// What this tab keeps in sessionStorage so nothing typed is lost on a detour (a login, a reload):
// the typed values of a step until the server has them, Finish's issues for the blocking step,
// and "focus the heading" across a navigation. Storage may be off or full: then nothing is kept.

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

export const typedValues = {
  keep: (step, values) => write(`typed:${step}`, { values, at: Date.now() }),
  read: (step) => read(`typed:${step}`)?.values ?? null,
  forget: (step) => write(`typed:${step}`, null),
};

export const pendingIssues = {
  keep: (step, issues) => write(`issues:${step}`, issues),
  take: (step) => take(`issues:${step}`),
};

export const headingFocus = {
  request: () => write("focus-heading", true),
  take: () => take("focus-heading") === true,
};
