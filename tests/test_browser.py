"""A real Chromium (Debian's, through Playwright) signs up, leaves, resumes elsewhere and finishes."""

import re

import pytest

from onboarding.models import OnboardingSession

from .browser_support import PASSWORD, browser, fill_work_profile, new_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


@pytest.mark.parametrize("javascript", [False, True], ids=["no-js", "js"])
def test_a_user_signs_up_leaves_resumes_in_a_fresh_browser_and_finishes(browser, live_server, javascript):
    """The whole journey, with JavaScript disabled (plain form posts) and enabled (saves through the API)."""
    from playwright.sync_api import expect

    url = live_server.url
    api_writes = []
    first_context, page = new_page(browser, javascript=javascript)
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

    second_context, page = new_page(browser, javascript=javascript)  # another browser: no cookies, no local state
    page.on("request", lambda request: api_writes.append(request.url) if "/api/" in request.url else None)
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
    fill_work_profile(page)
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
    assert bool(api_writes) == javascript  # without JavaScript the forms post; with it, the API saves

    session = OnboardingSession.objects.get(user__username="ada")
    assert session.state == "completed"
    assert session.skipped_steps == ["tools"]
    assert session.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "Analyst", "role": "data"}
