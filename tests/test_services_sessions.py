"""Service rules of the onboarding session: the one writer."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from onboarding import services
from onboarding.errors import (
    RevisionConflict,
    RevisionRequired,
    SessionAlreadyCompleted,
    StepValidationError,
)
from onboarding.models import Invitation, OnboardingEvent, OnboardingSession, OutboxMessage, Workspace

from .conftest import complete_through_services
from .factories import OnboardingSessionFactory, UserFactory, valid_answers

pytestmark = pytest.mark.django_db


def _start(user):
    return services.session_get_or_start(user=user, source="api")


def test_it_starts_one_session_per_user_and_returns_it_again(new_user):
    first = _start(new_user)
    again = _start(new_user)
    assert first.pk == again.pk
    assert OnboardingSession.objects.filter(user=new_user).count() == 1
    assert OnboardingEvent.objects.filter(session=first, name="started").count() == 1


def test_it_saves_a_step_under_a_new_revision(new_user):
    session = _start(new_user)
    saved = services.session_save_step(
        user=session.user,
        step="profile",
        answers={"fullName": "  Ada  ", "role": "engineering"},
        revision=session.revision,
        source="api",
    )
    saved.refresh_from_db()
    assert saved.revision != session.revision
    assert saved.answers["profile"] == {"full_name": "Ada", "job_title": "", "role": "engineering"}
    assert saved.completed_steps == ["profile"]
    assert saved.current_step == "work-profile"


def test_it_rejects_unknown_fields_and_stores_nothing(new_user):
    session = _start(new_user)
    with pytest.raises(StepValidationError) as exc:
        services.session_save_step(
            user=session.user,
            step="profile",
            revision=session.revision,
            source="api",
            answers={**valid_answers("profile"), "shoe_size": 42},
        )
    assert exc.value.issues[0]["code"] == "unknown_field"
    session.refresh_from_db()
    assert session.answers == {}


def test_it_rejects_an_unknown_step(new_user):
    session = _start(new_user)
    with pytest.raises(StepValidationError) as exc:
        services.session_save_step(
            user=session.user, step="hobbies", answers={}, revision=session.revision, source="api"
        )
    assert exc.value.issues[0]["code"] == "unknown_step"


def test_it_accepts_step_keys_in_any_case_style(new_user):
    session = _start(new_user)
    session = services.session_save_step(
        user=session.user, step="profile", answers=valid_answers("profile"), revision=session.revision, source="api"
    )
    session = services.session_save_step(
        user=session.user,
        step="workProfile",
        answers=valid_answers("work-profile"),
        revision=session.revision,
        source="api",
    )
    assert session.completed_steps == ["profile", "work-profile"]


def test_it_refuses_a_stale_revision_and_names_the_changed_fields(new_user):
    session = _start(new_user)
    stale = session.revision
    services.session_save_step(
        user=session.user, step="profile", answers=valid_answers("profile"), revision=stale, source="api"
    )
    with pytest.raises(RevisionConflict) as exc:
        services.session_save_step(
            user=session.user,
            step="profile",
            answers=valid_answers("profile", full_name="Someone Else"),
            revision=stale,
            source="wizard",
        )
    assert {"step": "profile", "field": "full_name"} in exc.value.changed_fields
    session.refresh_from_db()
    assert session.answers["profile"]["full_name"] == "Ada Lovelace"
    assert OnboardingEvent.objects.filter(session=session, name="revision_conflict").exists()


def test_it_requires_a_revision(new_user):
    session = _start(new_user)
    with pytest.raises(RevisionRequired):
        services.session_save_step(
            user=session.user, step="profile", answers=valid_answers("profile"), revision="", source="api"
        )


def test_it_refuses_a_step_beyond_the_first_outstanding_one(new_user):
    session = _start(new_user)
    with pytest.raises(StepValidationError) as exc:
        services.session_save_step(
            user=session.user,
            step="preferences",
            answers=valid_answers("preferences"),
            revision=session.revision,
            source="api",
        )
    assert exc.value.issues[0]["code"] == "step_not_reached"
    assert exc.value.blocking_step == "profile"


def test_it_skips_only_skippable_steps(halfway_session):
    skipped = services.session_skip_step(
        user=halfway_session.user, step="tools", revision=halfway_session.revision, source="api"
    )
    assert skipped.skipped_steps == ["tools"]
    with pytest.raises(StepValidationError) as exc:
        services.session_skip_step(user=skipped.user, step="preferences", revision=skipped.revision, source="api")
    assert exc.value.issues[0]["code"] in {"not_skippable", "step_not_reached"}


def test_going_back_unmarks_the_previous_step_and_keeps_its_answers(halfway_session):
    back = services.session_go_back(
        user=halfway_session.user, step="tools", revision=halfway_session.revision, source="wizard"
    )
    back.refresh_from_db()
    assert back.completed_steps == ["profile"]
    assert back.current_step == "work-profile"
    assert back.answers["work-profile"]["team_size"] == "2-10"


def test_a_stale_tab_on_a_session_staff_restarted_writes_nothing_to_either(halfway_session):
    fresh = services.session_restart(user=halfway_session.user, source="admin")

    with pytest.raises(RevisionConflict) as conflict:
        services.session_skip_step(
            user=halfway_session.user, step="tools", revision=halfway_session.revision, source="wizard"
        )

    assert conflict.value.session.pk == fresh.pk
    old_revision = halfway_session.revision
    halfway_session.refresh_from_db()
    assert halfway_session.revision == old_revision and halfway_session.state == "superseded"


def test_skipping_a_step_drops_its_answers_and_draft(halfway_session):
    user = halfway_session.user
    saved = services.session_save_step(
        user=user, step="tools", answers={"tools": ["jira"]}, revision=halfway_session.revision, source="api"
    )
    back = services.session_go_back(user=user, step="invites", revision=saved.revision, source="api")
    drafted = services.session_save_draft(
        user=user, step="tools", answers={"tools": ["linear"]}, revision=back.revision, source="api"
    )

    skipped = services.session_skip_step(user=user, step="tools", revision=drafted.revision, source="api")

    skipped.refresh_from_db()
    assert "tools" not in skipped.answers
    assert "tools" not in skipped.data["drafts"]
    assert "tools" in skipped.skipped_steps


def test_a_write_by_user_alone_finds_the_live_session(halfway_session):
    session = services.session_skip_step(
        user=halfway_session.user, step="tools", revision=halfway_session.revision, source="api"
    )

    assert session.pk == halfway_session.pk
    assert "tools" in session.skipped_steps


def _away_for(session, minutes):
    OnboardingSession.objects.filter(pk=session.pk).update(last_event_at=timezone.now() - timedelta(minutes=minutes))


def test_a_write_after_half_an_hour_away_records_resumed_first(halfway_session):
    _away_for(halfway_session, 31)

    services.session_skip_step(user=halfway_session.user, step="tools", revision=halfway_session.revision, source="api")

    names = list(OnboardingEvent.objects.filter(session=halfway_session).order_by("pk").values_list("name", flat=True))
    assert names[-2:] == ["resumed", "step_skipped"]


def test_a_refused_write_after_half_an_hour_away_still_records_resumed(halfway_session):
    _away_for(halfway_session, 31)

    with pytest.raises(StepValidationError):
        services.session_skip_step(
            user=halfway_session.user, step="preferences", revision=halfway_session.revision, source="api"
        )

    names = list(OnboardingEvent.objects.filter(session=halfway_session).order_by("pk").values_list("name", flat=True))
    assert names[-2:] == ["resumed", "validation_failed"]


def test_a_write_records_the_time_since_the_previous_event_and_becomes_the_previous_event(halfway_session):
    _away_for(halfway_session, 2)

    skipped = services.session_skip_step(
        user=halfway_session.user, step="tools", revision=halfway_session.revision, source="api"
    )
    services.session_save_step(
        user=halfway_session.user, step="invites", answers={}, revision=skipped.revision, source="api"
    )

    first, second = OnboardingEvent.objects.filter(session=halfway_session).order_by("pk")
    assert (first.name, second.name) == ("step_skipped", "step_saved")
    assert 119_000 <= first.duration_ms <= 125_000  # two minutes on the step
    assert 0 <= second.duration_ms < 5_000  # counted from the skip, not from before it
    halfway_session.refresh_from_db()
    assert abs((halfway_session.last_event_at - second.created_at).total_seconds()) < 1


def test_a_refused_write_counts_its_time_from_the_event_before_it(halfway_session):
    _away_for(halfway_session, 2)

    with pytest.raises(StepValidationError):
        services.session_save_step(
            user=halfway_session.user,
            step="tools",
            answers={"tools": ["typewriter"]},
            revision=halfway_session.revision,
            source="api",
        )

    failed = OnboardingEvent.objects.filter(session=halfway_session).latest("pk")
    assert failed.name == "validation_failed"
    assert 119_000 <= failed.duration_ms <= 125_000


def test_a_write_within_half_an_hour_records_no_resume(halfway_session):
    _away_for(halfway_session, 29)

    services.session_skip_step(user=halfway_session.user, step="tools", revision=halfway_session.revision, source="api")

    assert not OnboardingEvent.objects.filter(session=halfway_session, name="resumed").exists()


def test_a_draft_is_kept_without_validation_or_marking(new_user):
    session = _start(new_user)
    drafted = services.session_save_draft(
        user=session.user, step="profile", answers={"full_name": "A" * 200}, revision=session.revision, source="api"
    )
    drafted.refresh_from_db()
    assert drafted.data["drafts"]["profile"]["full_name"] == "A" * 200
    assert drafted.completed_steps == []
    assert drafted.answers == {}


def test_many_threads_saving_with_the_same_revision_produce_exactly_one_winner(transactional_db):
    user = UserFactory()
    session = _start(user)
    revision, outcomes, barrier = session.revision, [], threading.Barrier(8)

    def save(n):
        barrier.wait()
        try:
            services.session_save_step(
                user=session.user,
                step="profile",
                revision=revision,
                source="api",
                answers=valid_answers("profile", full_name=f"Writer {n}"),
            )
            outcomes.append("won")
        except RevisionConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == 7


def test_completion_creates_the_workspace_invites_and_one_outbox_message(
    new_user, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        session = complete_through_services(new_user)
    session.refresh_from_db()
    assert session.state == "completed" and session.completed_at is not None
    workspace = Workspace.objects.get(slug="analytical-engines")
    assert workspace.memberships.get(user=new_user).role == "owner"
    assert Invitation.objects.filter(workspace=workspace, email="charles@example.com").exists()
    assert OutboxMessage.objects.filter(session=session).count() == 1


def test_a_double_completion_completes_once(new_user):
    session = complete_through_services(new_user)
    again = services.session_complete(user=session.user, revision="whatever-the-tab-had", source="api")
    assert again.completed_at == session.completed_at
    assert OutboxMessage.objects.filter(session=session).count() == 1
    assert Workspace.objects.count() == 1
    assert OnboardingEvent.objects.filter(session=session, name="completed").count() == 1


def test_completion_names_the_blocking_step(halfway_session):
    with pytest.raises(StepValidationError) as exc:
        services.session_complete(user=halfway_session.user, revision=halfway_session.revision, source="api")
    assert exc.value.blocking_step == "preferences"
    assert OnboardingEvent.objects.filter(session=halfway_session, name="validation_failed").exists()


def test_completion_rechecks_that_the_workspace_slug_is_still_free(new_user):
    session = _start(new_user)
    for step in ("profile", "work-profile", "tools", "invites", "preferences", "workspace"):
        session = services.session_save_step(
            user=session.user, step=step, answers=valid_answers(step), revision=session.revision, source="api"
        )
    Workspace.objects.create(name="Analytical Engines", slug="analytical-engines")
    with pytest.raises(StepValidationError) as exc:
        services.session_complete(user=session.user, revision=session.revision, source="api")
    assert exc.value.blocking_step == "workspace"
    assert exc.value.issues[0]["field"] == "workspace_name"
    session.refresh_from_db()
    assert session.state == "in_progress"


def test_a_completed_session_refuses_further_writes(completed_session):
    with pytest.raises(SessionAlreadyCompleted):
        services.session_save_step(
            user=completed_session.user,
            step="profile",
            answers=valid_answers("profile"),
            revision=completed_session.revision,
            source="api",
        )


def test_a_version_bump_resets_to_the_baseline_keeping_valid_answers(db):
    session = OnboardingSessionFactory(
        done_steps=("profile", "work-profile"),
        version=1,
    )
    session.data["answers"]["profile"]["role"] = "astronaut"  # no longer a valid choice
    session.save()
    with override_settings(ONBOARDING_VERSION=2):
        reset = services.session_get_or_start(user=session.user, source="wizard")
    reset.refresh_from_db()
    assert reset.version == 2
    assert reset.completed_steps == []
    assert reset.answers["profile"] == {"full_name": "Ada Lovelace", "job_title": "Analyst"}
    assert reset.answers["work-profile"]["team_size"] == "2-10"
    assert reset.data["notice"]
    assert OnboardingEvent.objects.filter(session=reset, name="reset").exists()


def test_a_version_bump_leaves_completed_sessions_alone(completed_session):
    with override_settings(ONBOARDING_VERSION=2):
        same = services.session_get_or_start(user=completed_session.user, source="wizard")
    assert same.version == 1 and same.state == "completed"
