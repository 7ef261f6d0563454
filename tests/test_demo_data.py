"""The demo data command: everything through the services, safe to run twice."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from adminapi.selectors import onboarding_funnel
from aggregation.models import AnswerSnapshot
from aggregation.snapshots.services import snapshot_ingest
from onboarding.models import OnboardingEvent, OnboardingSession, OutboxMessage
from onboarding.services import completion_message

pytestmark = pytest.mark.django_db


def _load(**options):
    out = io.StringIO()
    call_command("load_demo_data", completed=3, abandoned=2, force=True, verbosity=0, stdout=out, **options)
    return out.getvalue()


def _counts():
    return get_user_model().objects.count(), OnboardingSession.objects.count(), OnboardingEvent.objects.count()


def test_it_creates_the_printed_accounts_and_sessions_through_the_services():
    output = _load()

    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    assert users.get(username="demo_done").check_password("onboarding-demo")
    assert "admin         / onboarding-admin" in output and "/accounts/login/" in output
    states = dict(OnboardingSession.objects.values_list("user__username", "state"))
    assert states["demo_done"] == states["completed01"] == "completed"
    assert states["demo_new"] == states["abandoned01"] == "in_progress"
    assert OnboardingSession.objects.get(user__username="demo_halfway").current_step == "invites"
    assert OnboardingEvent.objects.filter(name="completed").count() == 5  # admin, demo_done, 3 generated
    times = list(OnboardingEvent.objects.order_by("created_at").values_list("created_at", flat=True))
    assert (times[-1] - times[0]).days >= 1  # spread over time, not all "now"


def test_running_it_twice_adds_nothing():
    _load()
    counts = _counts()

    _load()

    assert _counts() == counts


def test_it_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError):
        call_command("load_demo_data", completed=0, abandoned=0, verbosity=0, stdout=io.StringIO())


def test_each_story_is_dated_back_and_the_telemetry_durations_agree_with_the_event_times():
    started = timezone.now()
    _load()

    sessions = OnboardingSession.objects.all()
    assert all(s.started_at < started - timedelta(hours=11) for s in sessions)  # every story began >= 0.5 days ago
    for session in sessions:
        assert session.user.date_joined <= session.started_at
        events = list(session.events.order_by("created_at", "pk"))
        assert events[0].name == "started" and events[-1].created_at <= session.last_event_at + timedelta(seconds=1)
        for before, event in zip(events, events[1:], strict=False):
            gap_ms = (event.created_at - before.created_at).total_seconds() * 1000
            assert event.duration_ms == pytest.approx(gap_ms, abs=1000), (session.user.username, event.name)


def test_the_staff_funnel_shows_minutes_spent_per_step_not_milliseconds():
    _load()

    medians = {step.key: step.median_ms for step in onboarding_funnel()}
    saves = OnboardingEvent.objects.filter(name__in=["step_saved", "step_skipped"])
    assert all(5_000 <= ms <= 401_000 for ms in saves.values_list("duration_ms", flat=True))
    assert all(20_000 <= medians[step] <= 400_000 for step in ("profile", "work-profile", "preferences"))


def test_the_completion_message_carries_the_historic_completion_time():
    _load()

    for message in OutboxMessage.objects.select_related("session"):
        assert message.payload == completion_message(message.session)
        assert abs(message.created_at - message.session.completed_at) < timedelta(seconds=1)
        snapshot_ingest(message=message.payload)  # what the consumer does once the demo's transaction commits
        snapshot = AnswerSnapshot.objects.get(session_id=message.session_id)
        assert snapshot.completed_at == message.session.completed_at < timezone.now() - timedelta(hours=11)


def test_it_runs_the_ai_question_experiment_on_half_of_the_demo_users():
    output = _load()

    assert "Experiment: onboarding-ai-question at 50%" in output
    flags = [session.flags for session in OnboardingSession.objects.all()]
    assert flags and all(set(decided) == {"onboarding-ai-question"} for decided in flags)
    with_question = OnboardingSession.objects.filter(data__flags__contains={"onboarding-ai-question": True})
    for session in with_question.filter(data__completed_steps__contains=["work-profile"]):
        assert "ai_usage" in session.answers["work-profile"]
