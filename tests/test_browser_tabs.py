"""Two pages of one user: a save in one shows in the other; unsaved edits are kept and flagged."""

import pytest

from onboarding import services
from onboarding.models import OnboardingEvent, OnboardingSession

from .browser_support import (  # noqa: F401
    PASSWORD,
    browser,
    enhanced,
    fill_work_profile,
    log_in,
    new_page,
    wait_for,
    wizard_server,
)
from .factories import UserFactory, valid_answers

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

WITHIN_2_S = 2_000


def _two_pages(browser, server, *, done=()):
    user = UserFactory(username="ada", email="ada@example.org", password=PASSWORD)
    session = services.session_get_or_start(user=user, source="api")
    for step in done:
        session = services.session_save_step(
            user=user, step=step, answers=valid_answers(step), revision=session.revision, source="api"
        )
    context, first = new_page(browser)
    log_in(first, server, "ada")
    second = context.new_page()  # a second tab: same cookies, same origin
    return context, first, second


def _session():
    return OnboardingSession.objects.get(user__username="ada")


def _open(page, server, path):
    page.goto(f"{server.url}{path}")
    enhanced(page)


def test_a_save_in_one_tab_shows_in_the_other_within_two_seconds(browser, wizard_server):
    from playwright.sync_api import expect

    context, first, second = _two_pages(browser, wizard_server, done=("profile",))
    _open(first, wizard_server, "/o/profile/")
    _open(second, wizard_server, "/o/profile/")
    expect(second.get_by_label("Job title")).to_have_value("Analyst")

    first.get_by_label("Job title").fill("Countess")
    first.get_by_role("button", name="Continue").click()
    expect(first).to_have_url(f"{wizard_server.url}/o/work-profile/")

    expect(second.get_by_label("Job title")).to_have_value("Countess", timeout=WITHIN_2_S)
    revision = _session().revision
    expect(second.locator("form[data-step] input[name=revision]")).to_have_value(revision, timeout=WITHIN_2_S)
    context.close()


def test_unsaved_edits_on_the_same_step_are_kept_and_flagged_and_never_overwrite_silently(browser, wizard_server):
    from playwright.sync_api import expect

    context, first, second = _two_pages(browser, wizard_server, done=("profile",))
    _open(first, wizard_server, "/o/profile/")
    _open(second, wizard_server, "/o/profile/")
    second.get_by_label("Full name").fill("Ada King")  # typed in the second tab, not saved

    first.get_by_label("Job title").fill("Countess")
    first.get_by_role("button", name="Continue").click()
    expect(first).to_have_url(f"{wizard_server.url}/o/work-profile/")

    expect(second.locator("[data-sync-state]")).to_have_attribute("data-sync-state", "conflict", timeout=WITHIN_2_S)
    expect(second.locator("[data-changed-elsewhere]")).to_be_visible()
    expect(second.get_by_label("Full name")).to_have_value("Ada King")  # kept
    assert _session().answers["profile"]["job_title"] == "Countess"
    assert _session().answers["profile"]["full_name"] == "Ada Lovelace"

    second.get_by_role("button", name="Continue").click()  # the job title here is still the old one
    choice = second.locator("[data-offline-conflict]")
    expect(choice.locator("legend")).to_have_text(["Job title"])  # only the field that really differs
    shown = wait_for(lambda: OnboardingEvent.objects.filter(name="conflict_shown").first(), message="conflict_shown")
    assert (shown.source, shown.step) == ("browser", "profile")
    choice.get_by_label("Take the one saved elsewhere: Countess").check()
    choice.get_by_role("button", name="Save my choices").click()
    expect(second).to_have_url(f"{wizard_server.url}/o/work-profile/")
    answers = _session().answers["profile"]
    assert (answers["job_title"], answers["full_name"]) == ("Countess", "Ada King")
    context.close()


def test_a_stale_page_on_another_device_gets_the_conflict_view_and_overwrites_nothing(browser, wizard_server):
    from playwright.sync_api import expect

    context, first, _ = _two_pages(browser, wizard_server, done=("profile",))
    device, second = new_page(browser)  # another browser: no channel reaches it, only its save finds out
    log_in(second, wizard_server, "ada")
    _open(first, wizard_server, "/o/profile/")
    _open(second, wizard_server, "/o/profile/")
    first.get_by_label("Job title").fill("Countess")
    first.get_by_role("button", name="Continue").click()
    expect(first).to_have_url(f"{wizard_server.url}/o/work-profile/")

    second.get_by_label("Job title").fill("Programmer")
    second.get_by_role("button", name="Continue").click()
    expect(second.locator("[data-sync-state]")).to_have_attribute("data-sync-state", "conflict")
    choice = second.locator("[data-offline-conflict]")
    expect(choice.locator("legend")).to_have_text(["Job title"])
    expect(second.get_by_label("Job title", exact=True)).to_have_value("Programmer")
    assert _session().answers["profile"]["job_title"] == "Countess"

    choice.get_by_label("Take the one saved elsewhere: Countess").check()
    choice.get_by_role("button", name="Save my choices").click()
    expect(second).to_have_url(f"{wizard_server.url}/o/work-profile/")
    assert _session().answers["profile"]["job_title"] == "Countess"
    context.close()
    device.close()


def test_a_stale_page_keeping_its_own_value_saves_it_once_chosen(browser, wizard_server):
    from playwright.sync_api import expect

    context, first, _ = _two_pages(browser, wizard_server, done=("profile",))
    device, second = new_page(browser)
    log_in(second, wizard_server, "ada")
    _open(first, wizard_server, "/o/profile/")
    _open(second, wizard_server, "/o/profile/")
    first.get_by_label("Job title").fill("Countess")
    first.get_by_role("button", name="Continue").click()
    expect(first).to_have_url(f"{wizard_server.url}/o/work-profile/")

    second.get_by_label("Full name").fill("Ada King")
    second.get_by_label("Job title").fill("Programmer")
    second.get_by_role("button", name="Continue").click()
    second.get_by_label("Keep mine: Programmer").check()
    second.get_by_role("button", name="Save my choices").click()

    expect(second).to_have_url(f"{wizard_server.url}/o/work-profile/")
    answers = _session().answers["profile"]
    assert (answers["job_title"], answers["full_name"]) == ("Programmer", "Ada King")
    context.close()
    device.close()


def test_two_tabs_on_different_steps_both_save_without_a_conflict(browser, wizard_server):
    from playwright.sync_api import expect

    context, first, second = _two_pages(browser, wizard_server, done=("profile",))
    _open(first, wizard_server, "/o/work-profile/")
    _open(second, wizard_server, "/o/profile/")
    fill_work_profile(first)

    second.get_by_label("Job title").fill("Countess")
    second.get_by_role("button", name="Continue").click()
    expect(second).to_have_url(f"{wizard_server.url}/o/work-profile/")

    first.get_by_role("button", name="Continue").click()
    expect(first).to_have_url(f"{wizard_server.url}/o/tools/")
    expect(first.locator("[data-conflict]")).to_have_count(0)
    session = _session()
    assert session.answers["profile"]["job_title"] == "Countess"
    assert session.answers["work-profile"]["timezone"] == "Europe/Berlin"
    assert session.completed_steps == ["profile", "work-profile"]
    context.close()
