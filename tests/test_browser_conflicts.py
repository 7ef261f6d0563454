"""A stale page without JavaScript: the 409 page's keep-mine / take-theirs choice in a real browser."""

import pytest

from onboarding import services
from onboarding.models import OnboardingSession

from .browser_support import PASSWORD, browser, log_in, new_page, wizard_server  # noqa: F401
from .factories import UserFactory, valid_answers

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_without_javascript_the_user_chooses_per_field_and_continue_saves_the_merge(browser, wizard_server):
    from playwright.sync_api import expect

    user = UserFactory(username="ada", email="ada@example.org", password=PASSWORD)
    session = services.session_get_or_start(user=user, source="api")
    session = services.session_save_step(
        user=user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    context, page = new_page(browser, javascript=False)
    log_in(page, wizard_server, "ada")
    page.goto(f"{wizard_server.url}/o/profile/")
    services.session_save_step(  # another device, meanwhile
        user=user,
        step="profile",
        answers=valid_answers("profile", job_title="Countess", role="design"),
        revision=session.revision,
        source="api",
    )

    page.get_by_label("Job title").fill("Programmer")
    page.get_by_label("Full name").fill("Ada King")
    page.get_by_role("button", name="Continue").click()

    choices = page.locator("[data-conflict-field]")
    expect(choices.locator("legend")).to_have_text(["Job title", "Role"])
    page.get_by_role("button", name="Continue").click()  # no choice yet: the server asks for one (novalidate)
    expect(page.get_by_text("nothing was saved yet")).to_be_visible()
    expect(choices.locator("legend")).to_have_text(["Job title", "Role"])
    page.get_by_label("Keep mine: Programmer").check()
    page.get_by_label("Take the one saved elsewhere: Design").check()
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    answers = OnboardingSession.objects.get(user=user).answers["profile"]
    assert answers == {"full_name": "Ada King", "job_title": "Programmer", "role": "design"}
    context.close()
