"""The offline wizard in real Chromium: the server really stopped (SIGKILL) and started again on the
same port, so the origin, its service worker, caches and IndexedDB stay.

Each test waits until the page says it is ready to work offline (the service worker active, the
shell, manifest and progress kept on the device), as a user who opened the wizard once online.
"""

import pytest
from django.contrib.sessions.models import Session

from onboarding import services
from onboarding.models import OnboardingEvent, OnboardingSession

from .browser_support import (  # noqa: F401
    CHROMIUM,
    CHROMIUM_ARGS,
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

REPLAY_TIMEOUT = 10.0


@pytest.fixture
def ada(transactional_db):
    user = UserFactory(username="ada", email="ada@example.org", password=PASSWORD)
    services.session_get_or_start(user=user, source="api")
    return user


@pytest.fixture
def server(wizard_server):
    """The wizard server, running again after the test whatever the test did to it."""
    yield wizard_server
    if wizard_server.process is None:
        wizard_server.start()


def _session():
    return OnboardingSession.objects.get(user__username="ada")


def _status(page):
    return page.locator("[data-sync-state]")


def _ready_offline(page):
    enhanced(page)
    page.locator("body[data-offline-ready]").wait_for()


def _open_wizard(page, server):
    from playwright.sync_api import expect

    log_in(page, server, "ada")
    expect(page).to_have_url(f"{server.url}/o/profile/")
    _ready_offline(page)


def _queue_profile(page, server, full_name="Ada Lovelace"):
    """Offline: fill step 1 and press Continue; the wizard moves on and keeps the step."""
    from playwright.sync_api import expect

    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Role").select_option("data")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.url}/o/work-profile/")
    expect(_status(page)).to_have_attribute("data-sync-state", "queued")


def _stored_on_device(page):
    """Every IndexedDB database and Cache Storage cache of the page's origin."""
    return page.evaluate("""async () => ({
        databases: (await indexedDB.databases()).map((db) => db.name),
        caches: await caches.keys(),
    })""")


def test_a_user_offline_from_step_one_finishes_and_every_answer_reaches_the_server_once(browser, server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    _open_wizard(page, server)
    server.kill()

    _queue_profile(page, server)
    expect(page.locator("h1")).to_have_text("Work profile")
    expect(page.locator("#progress-label")).to_have_text("Step 2 of 6")
    fill_work_profile(page)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.url}/o/tools/")
    page.get_by_role("button", name="Skip").click()
    expect(page).to_have_url(f"{server.url}/o/invites/")
    page.get_by_role("button", name="Back").click()  # Back works offline too
    expect(page).to_have_url(f"{server.url}/o/tools/")
    page.get_by_role("button", name="Skip").click()
    expect(page).to_have_url(f"{server.url}/o/invites/")
    page.get_by_label("Invite teammates").fill("charles@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.url}/o/preferences/")
    page.get_by_label("Dark").check()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.url}/o/workspace/")
    page.get_by_label("Create a new workspace").check()
    page.get_by_label("Workspace name").fill("Analytical Engines")
    page.get_by_role("button", name="Finish").click()
    expect(_status(page)).to_have_attribute("data-sync-state", "queued")
    expect(_status(page)).to_contain_text("Not sent yet")
    kept = page.locator("[data-finish-kept]")
    expect(kept).to_be_visible()
    expect(page.get_by_role("button", name="Finish")).to_have_count(0)  # no second Finish
    expect(kept.get_by_role("textbox", name="Workspace name")).to_have_value("Analytical Engines")
    expect(kept.get_by_role("textbox", name="Workspace name")).to_be_disabled()  # what will be sent, read-only
    assert "close this page" not in page.content()

    page.reload()  # still offline: the same honest page again, from what the device kept
    expect(page.locator("[data-finish-kept]")).to_be_visible()
    expect(page.locator("[data-finish-kept]").get_by_role("textbox", name="Workspace name")).to_have_value(
        "Analytical Engines"
    )
    assert _session().state == "in_progress"

    server.start()
    session = wait_for(
        lambda: (s := _session()).state == "completed" and s,
        timeout=REPLAY_TIMEOUT,
        message="the kept steps and the completion replayed",
    )
    assert session.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "", "role": "data"}
    assert session.answers["work-profile"]["team_size"] == "2-10"
    assert session.answers["work-profile"]["functions"] == ["engineering"]
    assert session.skipped_steps == ["tools"]
    assert session.answers["invites"]["emails"] == ["charles@example.com"]
    assert session.answers["preferences"]["theme"] == "dark"
    assert session.answers["workspace"] == {"mode": "create", "workspace_name": "Analytical Engines", "join_code": ""}
    assert OnboardingEvent.objects.filter(user=ada, name="completed").count() == 1
    expect(page).to_have_url(f"{server.url}/dashboard/")
    expect(page.locator(".workspace-name")).to_have_text("Analytical Engines")
    replayed = wait_for(
        lambda: (
            OnboardingEvent.objects.filter(user=ada, name="save_replayed").count() >= 6
            and list(OnboardingEvent.objects.filter(user=ada, name="save_replayed"))
        ),
        message="save_replayed events",
    )
    assert {event.source for event in replayed} == {"browser"}
    assert all(event.detail["waited_ms"] > 0 for event in replayed)
    assert OnboardingEvent.objects.filter(user=ada, name="save_queued").count() == len(replayed)
    context.close()


def _save_elsewhere(step, answers):
    """Another device saves ``step`` meanwhile (through the same service the API uses)."""
    user = OnboardingSession.objects.get(user__username="ada").user
    services.session_save_step(user=user, step=step, answers=answers, revision=_session().revision, source="api")


def test_a_kept_step_changed_differently_elsewhere_asks_which_value_to_keep_per_field(browser, server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    _open_wizard(page, server)
    server.kill()
    _queue_profile(page, server, full_name="Ada Lovelace")
    _save_elsewhere("profile", {"full_name": "Ada King", "role": "data"})  # the same role: no question about it
    server.start()

    expect(_status(page)).to_have_attribute("data-sync-state", "conflict", timeout=REPLAY_TIMEOUT * 1000)
    choice = page.locator("[data-offline-conflict]")
    expect(choice.get_by_role("group")).to_have_count(1)
    expect(choice.get_by_role("group", name="Full name")).to_be_visible()
    expect(choice.get_by_role("radio", name="Keep mine: Ada Lovelace")).not_to_be_checked()
    expect(choice.get_by_role("radio", name="Take the one saved elsewhere: Ada King")).not_to_be_checked()
    assert _session().answers["profile"]["full_name"] == "Ada King"

    choice.get_by_role("radio", name="Keep mine: Ada Lovelace").check()
    choice.get_by_role("button", name="Save my choices").click()

    wait_for(
        lambda: _session().answers["profile"]["full_name"] == "Ada Lovelace",
        timeout=REPLAY_TIMEOUT,
        message="the device's value saved",
    )
    expect(page).to_have_url(f"{server.url}/o/work-profile/")
    expect(_status(page)).not_to_have_attribute("data-sync-state", "conflict")
    assert wait_for(
        lambda: OnboardingEvent.objects.filter(user=ada, name="conflict_shown", step="profile").exists(),
        message="the conflict_shown event",
    )
    context.close()


def test_a_kept_step_merges_without_asking_when_another_step_changed_elsewhere(browser, server, ada):
    from playwright.sync_api import expect

    _save_elsewhere("profile", {"full_name": "Ada Lovelace", "role": "data"})
    context, page = new_page(browser)
    log_in(page, server, "ada")
    expect(page).to_have_url(f"{server.url}/o/work-profile/")
    _ready_offline(page)
    server.kill()
    fill_work_profile(page)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.url}/o/tools/")
    _save_elsewhere("profile", {"full_name": "Ada Lovelace", "job_title": "Analyst", "role": "data"})
    server.start()

    expect(page).to_have_url(f"{server.url}/o/tools/", timeout=REPLAY_TIMEOUT * 1000)
    session = wait_for(
        lambda: "work-profile" in (s := _session()).completed_steps and s,
        timeout=REPLAY_TIMEOUT,
        message="the kept step rebased and saved",
    )
    assert session.answers["profile"]["job_title"] == "Analyst"  # the other device's change stays
    assert session.answers["work-profile"]["team_size"] == "2-10"
    assert not OnboardingEvent.objects.filter(user=ada, name="conflict_shown").exists()
    context.close()


def test_a_kept_step_the_server_refuses_shows_its_issues_on_that_step(browser, server, ada):
    from playwright.sync_api import expect

    for step in ("profile", "work-profile", "tools"):
        _save_elsewhere(step, valid_answers(step))
    context, page = new_page(browser)
    log_in(page, server, "ada")
    expect(page).to_have_url(f"{server.url}/o/invites/")
    _ready_offline(page)
    server.kill()
    page.get_by_label("Invite teammates").fill("not-an-address")  # only the server can tell
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{server.url}/o/preferences/")
    server.start()

    expect(page).to_have_url(f"{server.url}/o/invites/", timeout=REPLAY_TIMEOUT * 1000)
    expect(_status(page)).to_have_attribute("data-sync-state", "failed")
    expect(page.locator(".error-summary")).to_contain_text("not-an-address")
    expect(page.get_by_label("Invite teammates")).to_have_value("not-an-address")
    page.get_by_label("Invite teammates").fill("charles@example.com")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{server.url}/o/preferences/")
    assert _session().answers["invites"]["emails"] == ["charles@example.com"]
    context.close()


def test_a_login_lost_while_saves_are_kept_asks_to_log_in_and_then_sends_them(browser, server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    _open_wizard(page, server)
    server.kill()
    _queue_profile(page, server)
    Session.objects.all().delete()  # logged out on the server meanwhile (e.g. the session expired)
    server.start()

    expect(_status(page)).to_have_attribute("data-sync-state", "auth-required", timeout=REPLAY_TIMEOUT * 1000)
    expect(_status(page)).to_contain_text("log in again")
    assert "full_name" not in _session().answers.get("profile", {})
    page.get_by_role("link", name="Log in again").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    session = wait_for(
        lambda: "profile" in (s := _session()).completed_steps and s,
        timeout=REPLAY_TIMEOUT,
        message="the kept step sent after logging in",
    )
    assert session.answers["profile"]["full_name"] == "Ada Lovelace"
    expect(page).to_have_url(f"{server.url}/o/work-profile/")
    context.close()


def test_a_queue_is_never_sent_under_another_user_who_logs_in_on_the_same_browser(browser, server, ada):
    from playwright.sync_api import expect

    bob = UserFactory(username="bob", email="bob@example.org", password=PASSWORD)
    context, page = new_page(browser)
    _open_wizard(page, server)
    server.kill()
    _queue_profile(page, server)
    Session.objects.all().delete()
    server.start()
    expect(_status(page)).to_have_attribute("data-sync-state", "auth-required", timeout=REPLAY_TIMEOUT * 1000)

    log_in(page, server, "bob")  # someone else, on the same browser profile
    expect(page).to_have_url(f"{server.url}/o/profile/")
    _ready_offline(page)  # bob's pages ran the replay (on load) and are ready
    assert "full_name" not in _session().answers.get("profile", {})
    assert OnboardingSession.objects.get(user=bob).answers == {}
    assert "onboarding-outbox" in _stored_on_device(page)["databases"]  # ada's step waits for ada

    context.clear_cookies()
    log_in(page, server, "ada")
    session = wait_for(
        lambda: "profile" in (s := _session()).completed_steps and s,
        timeout=REPLAY_TIMEOUT,
        message="ada's kept step sent once ada is back",
    )
    assert session.answers["profile"]["full_name"] == "Ada Lovelace"
    context.close()


def test_saves_kept_when_the_browser_closed_are_sent_when_it_opens_again(server, ada, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM  # a missing Chromium fails in launch, never skips
    with sync_playwright() as playwright:

        def open_browser():
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            context.set_default_timeout(15_000)
            return context, context.pages[0] if context.pages else context.new_page()

        context, page = open_browser()
        _open_wizard(page, server)
        server.kill()
        _queue_profile(page, server)
        context.close()
        server.start()
        assert "full_name" not in _session().answers.get("profile", {})

        context, page = open_browser()  # the same profile directory: cookies, IndexedDB, service worker
        page.goto(f"{server.url}/o/")
        session = wait_for(
            lambda: "profile" in (s := _session()).completed_steps and s,
            timeout=REPLAY_TIMEOUT,
            message="the kept step sent by the reopened browser",
        )
        assert session.answers["profile"]["full_name"] == "Ada Lovelace"
        expect(page).to_have_url(f"{server.url}/o/work-profile/")
        context.close()


def test_logging_out_with_saves_kept_leaves_nothing_of_the_user_on_the_device(browser, server, ada):
    from playwright.sync_api import expect

    context, page = new_page(browser)
    _open_wizard(page, server)
    server.kill()
    _queue_profile(page, server)
    assert "onboarding-outbox" in _stored_on_device(page)["databases"]

    page.get_by_role("button", name="Log out").click()  # the server is still down
    expect(page.locator("[data-logout-pending]")).to_be_visible()  # says the logout has not reached it
    expect(page.locator("[data-logout-pending]")).to_contain_text("You are not logged out yet")
    assert Session.objects.exists()
    server.start()
    page.goto(f"{server.url}/accounts/login/")  # the next page of the site: the logout is sent first

    wait_for(lambda: not Session.objects.exists(), timeout=REPLAY_TIMEOUT, message="the logout reaching the server")
    wait_for(lambda: _stored_on_device(page) == {"databases": [], "caches": []}, message="nothing of ada on the device")
    page.goto(f"{server.url}/o/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert "full_name" not in _session().answers.get("profile", {})
    context.close()


def _background_sync(context, server, tag="onboarding-outbox"):
    """Fire the browser's Background Sync event at the site's service worker, as Chromium does when it
    retries a sync: through DevTools (``ServiceWorker.dispatchSyncEvent``) instead of waiting minutes
    for the browser's own retry. A blank tab carries the DevTools session: no page of the site is open.
    """
    blank = context.new_page()
    devtools = context.new_cdp_session(blank)
    registrations = {}
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.update(
            {r["scopeURL"]: r["registrationId"] for r in event["registrations"] if not r["isDeleted"]}
        ),
    )
    devtools.send("ServiceWorker.enable")
    scope = f"{server.url}/o/"
    wait_for(lambda: scope in registrations, page=blank, message="the service worker's registration")
    devtools.send(
        "ServiceWorker.dispatchSyncEvent",
        {"origin": server.url, "registrationId": registrations[scope], "tag": tag, "lastChance": False},
    )
    return blank


def test_a_finish_kept_with_every_tab_closed_is_sent_by_the_service_worker_on_background_sync(browser, server, ada):
    """No page of the site open: the service worker's own drain sends the kept steps and the completion, once."""
    from playwright.sync_api import expect

    context, page = new_page(browser)
    _open_wizard(page, server)
    for step in ("profile", "work-profile", "tools", "invites", "preferences"):
        session = _session()
        services.session_save_step(
            user=ada, step=step, answers=valid_answers(step), revision=session.revision, source="api"
        )
    page.goto(f"{server.url}/o/workspace/")
    _ready_offline(page)
    server.kill()
    page.get_by_label("Create a new workspace").check()
    page.get_by_label("Workspace name").fill("Analytical Engines")
    page.get_by_role("button", name="Finish").click()
    page.locator("[data-finish-kept]").wait_for()
    page.close()  # every page of the site closed: only the service worker can send it now
    server.start()
    assert _session().state == "in_progress"

    blank = _background_sync(context, server)

    session = wait_for(
        lambda: (s := _session()).state == "completed" and s,
        timeout=REPLAY_TIMEOUT,
        message="the completion sent by the service worker",
    )
    assert session.answers["workspace"] == {"mode": "create", "workspace_name": "Analytical Engines", "join_code": ""}
    assert OnboardingEvent.objects.filter(user=ada, name="completed").count() == 1
    assert blank.url == "about:blank"  # nothing of the site was opened to send it

    later = context.new_page()  # a page opened afterwards finds nothing left to send
    later.goto(f"{server.url}/o/")
    expect(later).to_have_url(f"{server.url}/dashboard/")
    assert OnboardingEvent.objects.filter(user=ada, name="completed").count() == 1
    context.close()
