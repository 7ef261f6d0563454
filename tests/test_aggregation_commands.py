"""The backfill and the totals consistency check, through their management commands."""

import random
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from aggregation.models import AnswerGroupTotal, AnswerSnapshot
from aggregation.snapshots.consistency import totals_expected
from onboarding.models import OnboardingSession

from .aggregation_support import varied_answers
from .factories import CompletedSessionFactory, OnboardingSessionFactory, session_data
from .test_aggregation_ingest import v0_answers


def run(command: str, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def totals() -> Counter:
    return Counter({(t.step, t.question, t.answer): t.count for t in AnswerGroupTotal.objects.filter(count__gt=0)})


@pytest.fixture
def completed_sessions(db):
    """Seven completed sessions (one of answer schema 0, one since superseded) and one in progress."""
    rng, start = random.Random(31), timezone.now() - timedelta(days=10)
    sessions = [
        CompletedSessionFactory(
            completed_at=start + timedelta(days=day), data=session_data(answers=varied_answers(rng))
        )
        for day in range(6)
    ]
    sessions.append(
        CompletedSessionFactory(answer_schema_version=0, completed_at=start, data={"answers": v0_answers()})
    )
    OnboardingSession.objects.filter(pk=sessions[0].pk).update(state=OnboardingSession.State.SUPERSEDED)
    OnboardingSessionFactory(done_steps=("profile",))
    return sessions


def test_the_backfill_creates_every_snapshot_then_finds_them_unchanged(completed_sessions):
    first = run("backfill_onboarding_answers", "--batch-size", "3")
    ingested = dict(AnswerSnapshot.objects.values_list("session_id", "ingested_at"))

    second = run("backfill_onboarding_answers", "--batch-size", "3")

    assert "7 sessions: 7 created, 0 updated, 0 unchanged, 0 stale" in first
    assert "7 sessions: 0 created, 0 updated, 7 unchanged, 0 stale" in second
    assert ingested == dict(AnswerSnapshot.objects.values_list("session_id", "ingested_at"))
    assert set(ingested) == {session.pk for session in completed_sessions}
    assert (
        totals() == totals_expected()
        and sum(totals()[("profile", "role", r)] for r in ("engineering", "design", "product", "data", "founder")) == 7
    )


def test_the_backfill_updates_a_snapshot_whose_session_changed(completed_sessions):
    run("backfill_onboarding_answers")
    session = completed_sessions[1]
    session.data["answers"]["profile"]["role"] = "other"
    OnboardingSession.objects.filter(pk=session.pk).update(data=session.data)

    output = run("backfill_onboarding_answers")

    assert "7 sessions: 0 created, 1 updated, 6 unchanged, 0 stale" in output
    assert AnswerSnapshot.objects.get(pk=session.pk).role == "other"
    assert totals() == totals_expected()


def test_a_dry_run_reports_without_writing(completed_sessions):
    output = run("backfill_onboarding_answers", "--dry-run")

    assert "Dry run (nothing written): 7 sessions: 7 created" in output
    assert not AnswerSnapshot.objects.exists() and not AnswerGroupTotal.objects.exists()


def test_since_limits_the_backfill_to_later_completions(completed_sessions):
    since = completed_sessions[4].completed_at.isoformat()

    output = run("backfill_onboarding_answers", "--since", since)

    assert "2 sessions: 2 created" in output
    assert set(AnswerSnapshot.objects.values_list("session_id", flat=True)) == {s.pk for s in completed_sessions[4:6]}


def test_the_check_passes_when_totals_match_the_snapshots(completed_sessions):
    run("backfill_onboarding_answers")

    assert "Totals match the snapshots." in run("check_onboarding_totals")


def test_the_check_reports_drift_and_fails_without_repair(completed_sessions):
    run("backfill_onboarding_answers")
    AnswerGroupTotal.objects.filter(step="profile", question="role").update(count=0)
    AnswerGroupTotal.objects.create(step="tools", question="tools", answer="abacus", count=4)

    with pytest.raises(CommandError, match="drifted"):
        run("check_onboarding_totals")

    assert totals() != totals_expected()


def test_the_check_repairs_drift(completed_sessions):
    run("backfill_onboarding_answers")
    AnswerGroupTotal.objects.filter(step="profile", question="role").update(count=0)
    AnswerGroupTotal.objects.create(step="tools", question="tools", answer="abacus", count=4)

    output = run("check_onboarding_totals", "--repair")

    assert "tools.tools=abacus: stored 4, expected 0" in output and "Repaired" in output
    assert totals() == totals_expected()
    assert "Totals match the snapshots." in run("check_onboarding_totals")


def test_since_must_be_an_iso_date(db):
    with pytest.raises(CommandError, match="ISO 8601"):
        run("backfill_onboarding_answers", "--since", "last tuesday")
