// A "Copy" button beside a code (the dashboard's invite code): shown only when the browser can
// copy; the code stays selectable by hand either way. Says "copied" through a status element.

export function init(button) {
  if (!navigator.clipboard?.writeText) return;
  const target = document.getElementById(button.dataset.copyTarget);
  const status = button.parentElement.querySelector("[data-copy-status]");
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.textContent.trim());
      if (status) status.textContent = button.dataset.textCopied;
    } catch (error) {
      console.error("onboarding: copying failed", error);
    }
  });
}
