"""POST /api/onboarding/events: browser telemetry, authenticated, rate-limited, fixed fields only."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from onboarding import services
from onboarding.models import OnboardingEvent

from .factories import valid_answers

pytestmark = pytest.mark.django_db

URL = "/api/onboarding/events"


@pytest.fixture
def started(new_user):
    services.session_get_or_start(user=new_user, source="api")
    return new_user


def test_it_records_a_retried_save_with_source_browser(started, as_user):
    response = as_user(started).post(URL, {"name": "save_retried", "step": "Profile", "retries": 2}, format="json")

    assert response.status_code == 204
    event = OnboardingEvent.objects.get(name="save_retried")
    assert (event.source, event.step, event.detail, event.user_id) == (
        "browser",
        "profile",
        {"retries": 2},
        started.pk,
    )


def test_it_records_a_queued_save_and_how_long_its_replay_waited(started, as_user):
    assert as_user(started).post(URL, {"name": "save_queued", "step": "profile"}, format="json").status_code == 204
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):  # the save waited 42 s of that minute
        response = as_user(started).post(
            URL, {"name": "save_replayed", "step": "profile", "waited_ms": 42_000}, format="json"
        )

    assert response.status_code == 204
    queued, replayed = OnboardingEvent.objects.filter(source="browser").order_by("id")
    assert (queued.name, queued.detail) == ("save_queued", {})
    assert (replayed.name, replayed.step, replayed.detail) == ("save_replayed", "profile", {"waited_ms": 42_000})


def test_it_records_a_conflict_shown_without_moving_step_timings(started, as_user):
    session = services.session_get_or_start(user=started, source="api")
    last_event_at = session.last_event_at

    assert as_user(started).post(URL, {"name": "conflict_shown", "step": "profile"}, format="json").status_code == 204

    session.refresh_from_db()
    assert session.last_event_at == last_event_at
    assert OnboardingEvent.objects.get(name="conflict_shown").duration_ms is None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "step_saved", "step": "profile"},
        {"name": "save_retried", "step": "nowhere"},
        {"name": "save_retried", "step": "profile", "retries": 0},
        {"name": "conflict_shown", "step": "profile", "retries": 1},
        {"name": "conflict_shown", "step": "profile", "note": "free text"},
        {"name": "save_queued", "step": "profile", "waited_ms": 5},
        {"name": "save_replayed", "step": "profile", "waited_ms": -1},
        {"name": "save_replayed", "step": "profile", "waited_ms": 10**12},
    ],
)
def test_it_refuses_anything_but_the_fixed_fields(started, as_user, body):
    response = as_user(started).post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_failed"
    assert not OnboardingEvent.objects.filter(source="browser").exists()


def test_it_needs_credentials_and_csrf(started):
    assert (
        Client().post(URL, {"name": "conflict_shown", "step": "profile"}, content_type="application/json").status_code
        == 401
    )
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(started)
    response = browser.post(URL, {"name": "conflict_shown", "step": "profile"}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")


def test_it_is_rate_limited_per_user(started, as_user, settings):
    settings.API_BROWSER_EVENT_THROTTLE_RATE = "2/min"
    client = as_user(started)
    codes = [
        client.post(URL, {"name": "conflict_shown", "step": "profile"}, format="json").status_code for _ in range(3)
    ]

    assert codes == [204, 204, 429]
    assert OnboardingEvent.objects.filter(name="conflict_shown").count() == 2


def test_a_user_without_a_session_gets_404(new_user, as_user):
    assert as_user(new_user).post(URL, {"name": "conflict_shown", "step": "profile"}, format="json").status_code == 404


def test_it_refuses_an_event_for_a_step_the_session_never_reached(started, as_user):
    response = as_user(started).post(URL, {"name": "save_queued", "step": "workspace"}, format="json")

    assert response.status_code == 400
    assert response.json()["issues"][0]["code"] == "step_not_reached"
    assert not OnboardingEvent.objects.filter(source="browser").exists()


def test_it_accepts_an_event_for_the_step_a_session_has_just_reached(started, as_user):
    session = services.session_get_or_start(user=started, source="api")
    services.session_save_step(
        user=started, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )

    response = as_user(started).post(URL, {"name": "save_queued", "step": "work-profile"}, format="json")

    assert response.status_code == 204


def test_it_accepts_the_report_of_a_finish_just_after_the_completion(completed_user, as_user):
    response = as_user(completed_user).post(URL, {"name": "save_queued", "step": "workspace"}, format="json")

    assert response.status_code == 204


def test_it_refuses_an_event_for_a_session_completed_a_while_ago(completed_user, as_user, settings):
    later = timezone.now() + timedelta(seconds=settings.ONBOARDING_BROWSER_EVENTS_GRACE_SECONDS + 1)
    with time_machine.travel(later):
        response = as_user(completed_user).post(
            URL, {"name": "save_retried", "step": "profile", "retries": 1}, format="json"
        )

    assert response.status_code == 409
    assert response.json()["code"] == "already_completed"
    assert not OnboardingEvent.objects.filter(source="browser", name="save_retried").exists()


def test_it_refuses_a_wait_longer_than_the_session_has_existed(started, as_user):
    response = as_user(started).post(
        URL, {"name": "save_replayed", "step": "profile", "waited_ms": 3_600_000}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["issues"][0]["code"] == "out_of_range"
