"""A real Chromium loads the site's pages, the admin and the API docs under the CSP: nothing is refused."""

import pytest

from .browser_support import browser, new_page  # noqa: F401
from .conftest import PASSWORD
from .factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def visit(page, url) -> list[str]:
    """Open ``url``, let its scripts run, and return the CSP violations it met (events and console)."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__cspViolations")


def test_the_wizard_and_auth_pages_run_without_a_csp_violation(browser, live_server):
    UserFactory(username="ada")
    context, page = new_page(browser)
    context.add_init_script(WATCH_VIOLATIONS)
    console = []
    page.on(
        "console", lambda message: console.append(message.text) if "Content Security Policy" in message.text else None
    )

    violations = visit(page, f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/o/profile/")
    page.wait_for_load_state("networkidle")
    violations += page.evaluate("window.__cspViolations")
    page.get_by_label("Full name").fill("Ada Lovelace")  # the scripts (autosave, status) run under the policy
    page.get_by_label("Role").select_option("data")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/o/work-profile/")
    violations += visit(page, f"{live_server.url}/o/work-profile/")
    violations += visit(page, f"{live_server.url}/accounts/password_reset/")
    context.close()

    assert violations == [] and console == [], (violations, console)


def test_the_admin_pages_run_without_a_csp_violation(browser, live_server):
    StaffFactory(username="root", is_superuser=True)
    context, page = new_page(browser)
    context.add_init_script(WATCH_VIOLATIONS)
    visit(page, f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    violations = []
    for path in (
        "/admin/",
        "/admin/aggregation/answersnapshot/",
        "/admin/onboarding/onboardingsession/",
        "/admin/onboarding/funnel/",
        "/admin/auth/user/add/",
    ):
        violations += visit(page, f"{live_server.url}{path}")
    context.close()

    assert violations == [], violations


def test_the_api_docs_page_works_under_its_own_policy(browser, live_server):
    context, page = new_page(browser)
    context.add_init_script(WATCH_VIOLATIONS)

    violations = visit(page, f"{live_server.url}/api/docs/")
    page.locator(".opblock").first.wait_for()  # Swagger UI drew the operations from the schema

    assert violations == [], violations
    assert page.locator(".opblock").count() > 5
    context.close()
