"""In a real browser, the wizard loads its client as one script, and without it stays the plain form."""

import pytest

from onboarding import services

from .browser_support import PASSWORD, browser, enhanced, log_in, new_page, wizard_server  # noqa: F401
from .factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

BUNDLE = "/static/onboarding/build/client.js"


def _at_first_step(page, wizard_server):
    user = UserFactory(username="ada", email="ada@example.org", password=PASSWORD)
    services.session_get_or_start(user=user, source="wizard")
    log_in(page, wizard_server, "ada")
    page.wait_for_url("**/o/profile/")
    return user


def test_the_wizard_page_fetches_one_script_the_bundle(browser, wizard_server):
    context, page = new_page(browser)
    _at_first_step(page, wizard_server)
    enhanced(page)
    scripts = []
    page.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)

    page.goto(f"{wizard_server.url}/o/profile/")
    enhanced(page)

    assert scripts == [f"{wizard_server.url}{BUNDLE}"]
    context.close()


def test_when_the_bundle_cannot_be_loaded_the_step_is_the_plain_form_and_still_saves(browser, wizard_server):
    context, page = new_page(browser)
    context.route(f"**{BUNDLE}", lambda route: route.abort())
    user = _at_first_step(page, wizard_server)

    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Role").select_option("data")
    page.get_by_role("button", name="Continue").click()

    page.wait_for_url("**/o/work-profile/")
    assert page.locator("[data-sync-state]").is_hidden()  # the client never ran
    assert services.session_get_or_start(user=user, source="wizard").answers["profile"]["full_name"] == "Ada Lovelace"
    context.close()
