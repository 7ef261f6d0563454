"""A real Chromium (Debian's, through Playwright) signs up, leaves, resumes elsewhere and finishes."""
import os
import re

import pytest
from django.db import connections

from onboarding.models import OnboardingSession

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still
# synchronous, so tell Django not to refuse them.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
PASSWORD = "a-long-passphrase-42"

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def browser():
    # A missing Chromium must fail the run, never skip it: `make test` installs it.
    assert os.path.exists(CHROMIUM), f"Chromium is missing at {CHROMIUM}; run `make chromium`"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # ORM queries made under Playwright's loop open their own connection; close it so
            # the test database can be dropped at the end of the run.
            connections.close_all()


def _new_page(browser):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    return context, context.new_page()


def test_a_user_signs_up_leaves_resumes_in_a_fresh_browser_and_finishes(browser, live_server):
    from playwright.sync_api import expect

    url = live_server.url
    first_context, page = _new_page(browser)
    page.goto(f"{url}/accounts/signup/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(f"{url}/o/profile/")
    expect(page.locator("#progress-label")).to_have_text("Step 1 of 6")

    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Job title").fill("Analyst")
    page.get_by_label("Role").select_option("data")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{url}/o/work-profile/")
    first_context.close()  # leave mid-flow

    second_context, page = _new_page(browser)  # another browser: no cookies, no local state
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/o/work-profile/")
    expect(page.locator("#progress-label")).to_have_text("Step 2 of 6")

    page.get_by_role("button", name="Back").click()
    expect(page).to_have_url(f"{url}/o/profile/")
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Job title")).to_have_value("Analyst")
    expect(page.get_by_label("Role")).to_have_value("data")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{url}/o/work-profile/")
    page.get_by_label("2-10").check()
    page.get_by_label("Timezone").select_option("Europe/Berlin")
    page.get_by_role("group", name="Functions").get_by_label("Engineering").check()
    page.get_by_label("Roadmapping").check()
    page.get_by_label("Intermediate").check()
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{url}/o/tools/")
    page.get_by_role("button", name="Skip").click()

    expect(page).to_have_url(f"{url}/o/invites/")
    page.get_by_label("Invite teammates").fill("charles@example.com")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{url}/o/preferences/")
    page.get_by_label("Dark").check()
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{url}/o/workspace/")
    expect(page.get_by_role("button", name="Continue")).to_have_count(0)
    page.get_by_label("Create a new workspace").check()
    page.get_by_label("Workspace name").fill("Analytical Engines")
    page.get_by_role("button", name="Finish").click()

    expect(page).to_have_url(f"{url}/dashboard/")
    expect(page.locator(".workspace-name")).to_have_text("Analytical Engines")
    page.goto(f"{url}/o/profile/")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    second_context.close()

    session = OnboardingSession.objects.get(user__username="ada")
    assert session.state == "completed"
    assert session.skipped_steps == ["tools"]
    assert session.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "Analyst", "role": "data"}
