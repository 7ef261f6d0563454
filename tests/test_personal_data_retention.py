"""Retention: abandoned sessions erased, old events no figure needs, delivered messages and expired tokens deleted."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from aggregation.funnel import funnel_drift, funnel_figures, funnel_fold
from aggregation.models import ErasedSession
from aggregation.retention import retention_apply
from aggregation.signals import retention_due
from aggregation.snapshots.consistency import totals_drift
from onboarding import services
from onboarding.models import OnboardingEvent, OnboardingSession, OutboxMessage

from .conftest import complete_through_services
from .factories import UserFactory, valid_answers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_fold_lag(settings):
    settings.ONBOARDING_FUNNEL_FOLD_LAG = 0


def _halfway(username: str) -> OnboardingSession:
    user = UserFactory(username=username)
    session = services.session_get_or_start(user=user, source="api")
    session = services.session_save_step(
        user=user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    services.session_save_draft(
        user=user, step="work-profile", answers={"team_name": "Drafty"}, revision=session.revision, source="api"
    )
    return session


def _days_later(days: int):
    return time_machine.travel(timezone.now() + timedelta(days=days))


def test_an_abandoned_session_is_erased_after_the_retention_period_and_the_figures_stay_consistent(settings):
    abandoned = _halfway("wanderer")
    done = complete_through_services(UserFactory(username="finisher"))
    with _days_later(settings.ONBOARDING_RETENTION_ABANDONED_DAYS - 1):
        funnel_fold()
        recent = _halfway("newcomer")
        assert retention_apply().deleted["abandoned sessions"] == 0
    with _days_later(settings.ONBOARDING_RETENTION_ABANDONED_DAYS + 1):
        outcome = retention_apply()

        assert outcome.deleted["abandoned sessions"] == 1
        assert not OnboardingSession.objects.filter(pk=abandoned.pk).exists()
        assert not OnboardingEvent.objects.filter(session_id=abandoned.pk).exists()
        assert OnboardingSession.objects.filter(pk__in=[done.pk, recent.pk]).count() == 2
        assert ErasedSession.objects.get().reason == "retention"
        assert funnel_drift() == [] and totals_drift() == []
        assert funnel_figures()[""].reached == 2


def test_a_session_written_to_after_it_was_picked_is_not_erased():
    from aggregation.erasure import onboarding_sessions_erase

    session = _halfway("comeback")

    erased = onboarding_sessions_erase(session_ids=[session.pk], untouched_since=timezone.now() - timedelta(days=1))

    assert erased == [] and OnboardingSession.objects.filter(pk=session.pk).exists()


def test_old_events_go_once_folded_unless_a_funnel_figure_still_needs_them(settings):
    session = _halfway("typist")
    services.event_record_resumed_if_away(session=session, source="api", force=True)
    OnboardingEvent.objects.create(
        session=session, user_id=session.user_id, name="save_retried", step="profile", source="browser"
    )
    OnboardingEvent.objects.create(  # an event whose session is gone: nothing counts it
        session_id="00000000-0000-0000-0000-000000000001",
        user_id=session.user_id,
        name="save_queued",
        step="profile",
        source="browser",
    )
    kept_names = {"step_saved", "save_retried"}
    with _days_later(settings.ONBOARDING_RETENTION_EVENTS_DAYS + 1):
        assert retention_apply().deleted["events"] == 0  # never folded: every event may still be needed
        funnel_fold()
        before = funnel_figures()["profile"]

        outcome = retention_apply()

        assert outcome.deleted["events"] == 4  # started, draft_saved, resumed, the orphan
        assert set(OnboardingEvent.objects.values_list("name", flat=True)) == kept_names
        assert funnel_figures()["profile"] == before
        assert funnel_drift() == []


def test_events_younger_than_the_retention_period_stay(settings):
    _halfway("recent")
    with _days_later(settings.ONBOARDING_RETENTION_EVENTS_DAYS - 1):
        funnel_fold()
        assert retention_apply().deleted["events"] == 0


def test_delivered_outbox_messages_go_after_their_retention_and_pending_ones_stay(settings):
    done = complete_through_services(UserFactory(username="delivered"))
    pending = complete_through_services(UserFactory(username="pending"), workspace_name="Other Works")
    services.outbox_acknowledge(message_id=OutboxMessage.objects.get(session=done).pk)
    with _days_later(settings.ONBOARDING_RETENTION_OUTBOX_DAYS + 1):
        assert retention_apply().deleted["outbox messages"] == 1
    assert list(OutboxMessage.objects.values_list("session_id", flat=True)) == [pending.pk]


def test_expired_refresh_tokens_go_and_a_blacklisted_unexpired_one_stays(settings):
    user = UserFactory(username="tokens")
    old = RefreshToken.for_user(user)
    with _days_later(2):
        fresh = RefreshToken.for_user(user)
        fresh.blacklist()
        old_jti, fresh_jti = old["jti"], fresh["jti"]

        assert retention_apply().deleted["expired tokens"] == 1

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [fresh_jti]
    assert BlacklistedToken.objects.filter(token__jti=fresh_jti).exists()
    assert not OutstandingToken.objects.filter(jti=old_jti).exists()


def test_each_purge_works_in_batches_until_nothing_is_left(settings):
    sessions = [_halfway(f"batch{n}") for n in range(5)]
    with _days_later(settings.ONBOARDING_RETENTION_ABANDONED_DAYS + 1):
        outcome = retention_apply(batch=2)

    assert outcome.deleted["abandoned sessions"] == 5
    assert not OnboardingSession.objects.filter(pk__in=[s.pk for s in sessions]).exists()


def test_a_run_out_of_time_stops_between_batches_and_says_so():
    _halfway("slow")
    outcome = retention_apply(max_seconds=0)

    assert outcome.stopped_early and "stopped for time" in outcome.summary()


def test_apps_above_are_told_to_purge_their_own_rows():
    received = []

    def receiver(sender, now, batch, **kwargs):
        received.append(batch)

    retention_due.connect(receiver)
    try:
        retention_apply(batch=7)
    finally:
        retention_due.disconnect(receiver)
    assert received == [7]


def test_beat_runs_the_retention_on_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["onboarding-retention"]
    assert entry["task"] == "aggregation.retention_apply"
    assert entry["schedule"] == float(settings.ONBOARDING_RETENTION_INTERVAL)
    from onboarding_project.celery import app

    assert "aggregation.retention_apply" in app.tasks
