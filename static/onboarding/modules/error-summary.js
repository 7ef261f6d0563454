// The server-rendered error summary takes focus when the page loads (GOV.UK's pattern), so a
// screen reader starts with what went wrong and the keyboard is one Tab from the first link.
// A link moves focus to its field (the browser's own behaviour for an id in the URL fragment).

export function init(summary) {
  if (summary.closest("template")) return;
  summary.focus();
}
