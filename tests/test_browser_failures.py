"""Real failures in real Chromium: a server answering 503, a killed server, a lost login, a closed tab.

Each test asserts what the user sees and what the database holds. The failures are real: a
Playwright route answering 503 at the network layer, the server process killed (SIGKILL) and
started again on the same port, cookies deleted, a browser context closed.
"""

import pytest

from onboarding import services
from onboarding.models import IdempotencyKey, OnboardingEvent, OnboardingSession

from .browser_support import (  # noqa: F401
    PASSWORD,
    browser,
    enhanced,
    fail_next,
    log_in,
    new_page,
    record_sync_states,
    wait_for,
    wizard_server,
)
from .factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PROGRESS = "**/api/users/me/onboarding-progress"


@pytest.fixture
def ada(transactional_db):
    user = UserFactory(username="ada", email="ada@example.org", password=PASSWORD)
    services.session_get_or_start(user=user, source="api")
    return user


def _session():
    return OnboardingSession.objects.get(user__username="ada")


def _sync_state(page):
    return page.locator("[data-sync-state]")


def _fill_profile(page, full_name="Ada Lovelace"):
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Role").select_option("data")


def test_a_save_answered_503_twice_is_retried_and_saved_once(browser, wizard_server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    failed = fail_next(page, PROGRESS, times=2, action="save")
    _fill_profile(page)
    states = record_sync_states(page)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    assert "retrying: Couldn't reach the server. Trying again…" in states
    assert states[-1] == "saved: Saved"
    assert failed["count"] == 2
    assert _session().answers["profile"]["full_name"] == "Ada Lovelace"
    assert OnboardingEvent.objects.filter(user=ada, name="step_saved", step="profile").count() == 1
    retried = wait_for(
        lambda: OnboardingEvent.objects.filter(user=ada, name="save_retried").first(), message="the save_retried event"
    )
    assert (retried.source, retried.step, retried.detail) == ("browser", "profile", {"retries": 2})
    context.close()


def test_a_429_is_retried_after_the_time_retry_after_asks_for(browser, wizard_server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    throttled = fail_next(page, PROGRESS, times=1, action="save", status=429, headers={"Retry-After": "2"})
    _fill_profile(page)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    first, second = throttled["sent_at"]
    assert second - first >= 2.0  # the backoff alone would be 0.2-0.6 s
    assert _session().completed_steps == ["profile"]
    context.close()


def test_other_client_errors_are_not_retried_and_keep_the_typed_values(browser, wizard_server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    refused = fail_next(page, PROGRESS, times=1, action="save", status=413)
    _fill_profile(page)
    page.get_by_role("button", name="Continue").click()

    expect(_sync_state(page)).to_have_attribute("data-sync-state", "failed")
    expect(page.locator("[data-sync-text]")).to_have_text(
        "Not saved: the server refused this request. What you typed is still here."
    )
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    assert len(refused["sent_at"]) == 1
    page.get_by_role("button", name="Continue").click()  # the user tries again: it goes through
    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    assert _session().completed_steps == ["profile"]
    context.close()


def test_a_save_whose_answer_was_lost_is_answered_again_by_its_idempotency_key(browser, wizard_server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    failed = fail_next(page, PROGRESS, times=1, action="save", after_server=True)  # committed, answer lost
    _fill_profile(page)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    assert failed["count"] == 1
    assert _session().completed_steps == ["profile"]
    assert OnboardingEvent.objects.filter(user=ada, name="step_saved").count() == 1
    assert not OnboardingEvent.objects.filter(user=ada, name="revision_conflict").exists()
    assert IdempotencyKey.objects.filter(user=ada).count() == 1
    context.close()


def test_a_killed_server_keeps_the_step_on_the_device_and_it_is_saved_once_when_the_server_is_back(
    browser, wizard_server, ada
):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    _fill_profile(page)
    wizard_server.kill()
    try:
        page.get_by_role("button", name="Continue").click()
        # After the retries: kept on this device, no longer "failed".
        expect(_sync_state(page)).to_have_attribute("data-sync-state", "queued", timeout=10_000)
        expect(page.get_by_role("status")).to_contain_text("Kept on this device until the server can be reached")
        assert "profile" not in _session().completed_steps
    finally:
        wizard_server.start()

    # Sent by itself once the server is back, and the page then shows the server's next step.
    wait_for(lambda: "profile" in _session().completed_steps, timeout=10, message="the kept save")
    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    expect(_sync_state(page)).to_have_attribute("data-sync-state", "idle")
    session = _session()
    assert session.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "", "role": "data"}
    assert session.completed_steps == ["profile"]
    assert OnboardingEvent.objects.filter(user=ada, name="step_saved", step="profile").count() == 1
    context.close()


def test_a_deleted_session_cookie_asks_to_log_in_and_nothing_typed_is_lost(browser, wizard_server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    _fill_profile(page, full_name="Ada King")
    context.clear_cookies(name="sessionid")
    actions = []
    page.on(
        "request",
        lambda request: (
            actions.append((request.post_data_json or {}).get("action")) if request.method == "PATCH" else None
        ),
    )
    page.get_by_role("button", name="Continue").click()

    expect(_sync_state(page)).to_have_attribute("data-sync-state", "auth-required")
    login_link = page.get_by_role("link", name="Log in again")
    expect(login_link).to_be_visible()
    expect(page.get_by_label("Full name")).to_have_value("Ada King")
    assert actions.count("save") == 1  # a 401 is final: no retry loop
    assert actions.count("draft") <= 1
    login_link.click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Logged in again as the same user: the save kept on the device is sent, and the user goes on.
    wait_for(lambda: "profile" in _session().completed_steps, timeout=10, message="the kept save")
    expect(page).to_have_url(f"{wizard_server.url}/o/work-profile/")
    assert _session().answers["profile"]["full_name"] == "Ada King"
    assert _session().answers["profile"]["role"] == "data"
    context.close()


def test_a_draft_typed_before_closing_the_tab_is_there_in_a_fresh_browser(browser, wizard_server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    log_in(page, wizard_server, "ada")
    enhanced(page)
    page.get_by_label("Full name").fill("Ada Byron")
    page.get_by_label("Job title").fill("Enchantress of numbers")
    expect(_sync_state(page)).to_have_attribute("data-sync-state", "saved", timeout=5_000)
    expect(page.locator("[data-sync-text]")).to_have_text("Draft saved")
    context.close()
    # A draft carries what the user changed, nothing else (untouched fields can't overwrite anything).
    assert _session().data["drafts"]["profile"] == {"full_name": "Ada Byron", "job_title": "Enchantress of numbers"}

    fresh, page = new_page(browser)  # no cookies, no storage of the first context
    log_in(page, wizard_server, "ada")
    enhanced(page)
    expect(page).to_have_url(f"{wizard_server.url}/o/profile/")
    expect(page.get_by_label("Full name")).to_have_value("Ada Byron")
    expect(page.get_by_label("Job title")).to_have_value("Enchantress of numbers")
    assert "profile" not in _session().completed_steps
    fresh.close()
