"""With JavaScript on, the wizard saves through the API; what the user sees matches the server's page."""

import re

import pytest

from onboarding import services
from onboarding.models import OnboardingSession

from .browser_support import PASSWORD, browser, enhanced, log_in, new_page, wizard_server  # noqa: F401
from .factories import UserFactory, valid_answers

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def _user_at(step_keys=(), username="ada"):
    user = UserFactory(username=username, email=f"{username}@example.org", password=PASSWORD)
    session = services.session_get_or_start(user=user, source="api")
    for step in step_keys:
        session = services.session_save_step(
            user=user, step=step, answers=valid_answers(step), revision=session.revision, source="api"
        )
    return user


def _api_writes(page) -> list:
    writes = []
    page.on(
        "request",
        lambda request: writes.append((request.method, request.url)) if request.method in ("PATCH", "POST") else None,
    )
    return writes


def test_continue_saves_through_the_api_and_lands_where_the_server_says(browser, wizard_server):
    from playwright.sync_api import expect

    _user_at()
    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    expect(page).to_have_url(f"{wizard_server.url}/o/profile/")
    enhanced(page)
    page.get_by_role("status").filter(has_text=re.compile("."))
    expect(page.locator("[data-sync-state]")).to_have_attribute("data-sync-state", "idle")
    expect(page.locator("[data-sync-state]")).to_be_visible()
    writes = _api_writes(page)

    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Role").select_option("data")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    assert ("PATCH", f"{wizard_server.url}/api/users/me/onboarding-progress") in writes
    assert not [url for method, url in writes if method == "POST" and "/o/" in url]
    session = OnboardingSession.objects.get(user__username="ada")
    assert session.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "", "role": "data"}
    assert session.events.filter(name="step_saved", step="profile", source="api").count() == 1
    context.close()


def _emails_error_state(page) -> dict:
    """What the user (and a screen reader) gets for an invalid e-mail list: texts and aria-*."""
    summary = page.locator(".error-summary")
    field = page.locator("[data-field=emails]")
    control = field.locator("textarea")
    return {
        "summary_role": summary.get_attribute("role"),
        "summary_labelledby": summary.get_attribute("aria-labelledby"),
        "summary_text": summary.inner_text(),
        "summary_links": [link.get_attribute("href") for link in summary.locator("a").all()],
        "errorlist_id": field.locator(".errorlist").get_attribute("id"),
        "errorlist_text": field.locator(".errorlist").inner_text(),
        "has_error": "has-error" in (field.get_attribute("class") or ""),
        "aria_invalid": control.get_attribute("aria-invalid"),
        "aria_describedby": control.get_attribute("aria-describedby"),
    }


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_an_invalid_answer_is_shown_inline_the_same_with_and_without_javascript(browser, wizard_server, javascript):
    from playwright.sync_api import expect

    _user_at(("profile", "work-profile", "tools"))
    context, page = new_page(browser, javascript=javascript)
    log_in(page, wizard_server, "ada")
    expect(page).to_have_url(f"{wizard_server.url}/o/invites/")
    if javascript:
        enhanced(page)
    page.get_by_label("Invite teammates").fill("charles@example.com, ada@example.org")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator(".error-summary")).to_be_visible()
    expect(page).to_have_url(f"{wizard_server.url}/o/invites/")
    state = _emails_error_state(page)
    assert state == {
        "summary_role": "alert",
        "summary_labelledby": "error-summary-title",
        "summary_text": "There is a problem\nYou can't invite yourself.",
        "summary_links": ["#id_invites-emails"],
        "errorlist_id": "id_invites-emails_error",
        "errorlist_text": "You can't invite yourself.",
        "has_error": True,
        "aria_invalid": "true",
        "aria_describedby": "id_invites-emails_helptext id_invites-emails_error",
    }
    expect(page).to_have_title(re.compile(r"^Error: Invite teammates"))
    if javascript:
        expect(page.locator(".error-summary")).to_be_focused()  # the summary takes focus (GOV.UK's pattern)
        expect(page.locator("[data-sync-state]")).to_have_attribute("data-sync-state", "failed")
        expect(page.get_by_label("Invite teammates")).to_have_value("charles@example.com, ada@example.org")
    assert "invites" not in OnboardingSession.objects.get(user__username="ada").completed_steps
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_finish_takes_the_user_to_the_blocking_step_with_the_message_inline(browser, wizard_server, javascript):
    from playwright.sync_api import expect

    user = _user_at(("profile", "work-profile", "tools", "invites", "preferences"))
    # The invited address became the user's own since: completion refuses it on the invites step.
    user.email = valid_answers("invites")["emails"][0]
    user.save(update_fields=["email"])
    context, page = new_page(browser, javascript=javascript)
    log_in(page, wizard_server, "ada")
    expect(page).to_have_url(f"{wizard_server.url}/o/workspace/")
    if javascript:
        enhanced(page)
    page.get_by_label("Create a new workspace").check()
    page.get_by_label("Workspace name").fill("Analytical Engines")
    page.get_by_role("button", name="Finish").click()

    expect(page).to_have_url(f"{wizard_server.url}/o/invites/")
    expect(page.locator(".error-summary")).to_be_visible()
    state = _emails_error_state(page)
    assert state["summary_text"] == "There is a problem\nYou can't invite yourself."
    assert state["errorlist_text"] == "You can't invite yourself."
    assert (state["aria_invalid"], state["aria_describedby"]) == (
        "true",
        "id_invites-emails_helptext id_invites-emails_error",
    )
    expect(page).to_have_title(re.compile(r"^Error: Invite teammates"))
    if javascript:
        expect(page.locator(".error-summary")).to_be_focused()  # the summary takes focus (GOV.UK's pattern)
    session = OnboardingSession.objects.get(user__username="ada")
    assert session.state == "in_progress"
    assert session.answers["workspace"]["workspace_name"] == "Analytical Engines"
    context.close()
