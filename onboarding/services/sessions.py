"""Session writes: start, save a step, skip, go back, draft, reset. The only writers of sessions."""
import copy

from django.conf import settings
from django.db import IntegrityError, transaction

from ..errors import StepValidationError, issue
from ..manifest import ANSWER_SCHEMA_VERSION, STEP_KEYS, STEPS, get_step, step_index, UnknownStep
from ..models import OnboardingEvent, OnboardingSession
from ..selectors import first_outstanding_step, session_live_for_user, step_is_reachable
from .events import event_record, event_record_resumed_if_away
from .writes import (
    check_revision, commit_write, failures_recorded, normalise_answers, session_lock, step_validate,
)

Name = OnboardingEvent.Name
RESET_NOTICE = "Onboarding has changed since you started. Please review your answers; we kept the ones that still apply."


def session_get_or_start(*, user, source: str) -> OnboardingSession:
    """Return the user's live session, starting one or resetting an outdated one as needed."""
    session = session_live_for_user(user)
    if session is None:
        return _session_start(user=user, source=source)
    if session.state == OnboardingSession.State.IN_PROGRESS and session.version < settings.ONBOARDING_VERSION:
        return session_reset_to_baseline(session=session, source=source)
    event_record_resumed_if_away(session=session, source=source)
    return session


def _session_start(*, user, source: str) -> OnboardingSession:
    try:
        with transaction.atomic():
            session = OnboardingSession.objects.create(
                user=user, version=settings.ONBOARDING_VERSION, answer_schema_version=ANSWER_SCHEMA_VERSION,
                current_step=STEP_KEYS[0],
                data={"answers": {}, "completed_steps": [], "skipped_steps": [], "drafts": {}, "history": []},
            )
    except IntegrityError:  # a concurrent request started it first
        return session_live_for_user(user)
    event_record(session=session, name=Name.STARTED, source=source, step=STEP_KEYS[0])
    return session


def session_save_step(*, session: OnboardingSession, step: str, answers: dict, revision: str, source: str) -> OnboardingSession:
    """Validate a step's answers, store them and mark the step done."""
    step_def = _step_or_error(step)
    with failures_recorded(session=session, step=step_def.key, source=source):
        return _save_step(session_id=session.pk, step_def=step_def, answers=answers, revision=revision, source=source)


@transaction.atomic
def _save_step(*, session_id, step_def, answers, revision, source) -> OnboardingSession:
    session = session_lock(session_id)
    check_revision(session, revision)
    _check_reachable(session, step_def.key)
    cleaned = step_validate(step=step_def, answers=normalise_answers(step_def, answers), user=session.user)
    old_answers = copy.deepcopy(session.answers)
    data = session.data
    data.setdefault("answers", {})[step_def.key] = cleaned
    data["completed_steps"] = _with(data.get("completed_steps", []), step_def.key)
    data["skipped_steps"] = _without(data.get("skipped_steps", []), step_def.key)
    data.get("drafts", {}).pop(step_def.key, None)
    commit_write(session, old_answers=old_answers)
    event_record(session=session, name=Name.STEP_SAVED, source=source, step=step_def.key)
    return session


def session_skip_step(*, session: OnboardingSession, step: str, revision: str, source: str) -> OnboardingSession:
    """Mark a skippable step skipped; its answers, if any, no longer count."""
    step_def = _step_or_error(step)
    with failures_recorded(session=session, step=step_def.key, source=source):
        return _skip_step(session_id=session.pk, step_def=step_def, revision=revision, source=source)


@transaction.atomic
def _skip_step(*, session_id, step_def, revision, source) -> OnboardingSession:
    session = session_lock(session_id)
    check_revision(session, revision)
    _check_reachable(session, step_def.key)
    if not step_def.skippable:
        raise StepValidationError([issue(step_def.key, None, "not_skippable", f"“{step_def.title}” can't be skipped.")])
    old_answers = copy.deepcopy(session.answers)
    data = session.data
    data.get("answers", {}).pop(step_def.key, None)
    data.get("drafts", {}).pop(step_def.key, None)
    data["skipped_steps"] = _with(data.get("skipped_steps", []), step_def.key)
    data["completed_steps"] = _without(data.get("completed_steps", []), step_def.key)
    commit_write(session, old_answers=old_answers)
    event_record(session=session, name=Name.STEP_SKIPPED, source=source, step=step_def.key)
    return session


def session_go_back(*, session: OnboardingSession, step: str, revision: str, source: str) -> OnboardingSession:
    """Un-mark the step before ``step`` and make it the current one."""
    step_def = _step_or_error(step)
    with failures_recorded(session=session, step=step_def.key, source=source):
        return _go_back(session_id=session.pk, step_def=step_def, revision=revision, source=source)


@transaction.atomic
def _go_back(*, session_id, step_def, revision, source) -> OnboardingSession:
    session = session_lock(session_id)
    check_revision(session, revision)
    index = step_index(step_def.key)
    if index == 0:
        raise StepValidationError([issue(step_def.key, None, "no_previous_step", "This is the first step.")])
    previous = STEP_KEYS[index - 1]
    data = session.data
    data["completed_steps"] = _without(data.get("completed_steps", []), previous)
    data["skipped_steps"] = _without(data.get("skipped_steps", []), previous)
    commit_write(session, old_answers=session.answers, current_step=previous)
    event_record(session=session, name=Name.STEP_BACK, source=source, step=previous)
    return session


def session_save_draft(*, session: OnboardingSession, step: str, answers: dict, revision: str, source: str) -> OnboardingSession:
    """Keep partial, unvalidated answers of a step (autosave); known fields only."""
    step_def = _step_or_error(step)
    with failures_recorded(session=session, step=step_def.key, source=source):
        return _save_draft(session_id=session.pk, step_def=step_def, answers=answers, revision=revision, source=source)


@transaction.atomic
def _save_draft(*, session_id, step_def, answers, revision, source) -> OnboardingSession:
    session = session_lock(session_id)
    check_revision(session, revision)
    draft = normalise_answers(step_def, answers)
    drafts = session.data.setdefault("drafts", {})
    drafts[step_def.key] = {**drafts.get(step_def.key, {}), **draft}
    commit_write(session, old_answers=session.answers, current_step=session.current_step)
    event_record(session=session, name=Name.DRAFT_SAVED, source=source, step=step_def.key)
    return session


@transaction.atomic
def session_reset_to_baseline(*, session: OnboardingSession, source: str) -> OnboardingSession:
    """Bring an in-progress session of an older version to the current baseline, keeping valid answers."""
    session = session_lock(session.pk)
    if session.state != OnboardingSession.State.IN_PROGRESS or session.version >= settings.ONBOARDING_VERSION:
        return session
    old_answers = copy.deepcopy(session.answers)
    kept = {key: fields for key, fields in ((s.key, _still_valid(s, old_answers.get(s.key), session.user)) for s in STEPS) if fields}
    session.data.update(answers=kept, completed_steps=[], skipped_steps=[], drafts={}, notice=RESET_NOTICE)
    commit_write(session, old_answers=old_answers, keep_notice=True, current_step=STEP_KEYS[0],
                 version=settings.ONBOARDING_VERSION, answer_schema_version=ANSWER_SCHEMA_VERSION)
    event_record(session=session, name=Name.RESET, source=source,
                 detail={"kept_steps": sorted(kept), "to_version": settings.ONBOARDING_VERSION})
    return session


@transaction.atomic
def session_restart(*, user, source: str) -> OnboardingSession:
    """Supersede the user's live session (staff reset) and start a fresh one."""
    live = OnboardingSession.objects.select_for_update().filter(user=user).exclude(
        state=OnboardingSession.State.SUPERSEDED
    ).first()
    if live is not None:
        OnboardingSession.objects.filter(pk=live.pk).update(state=OnboardingSession.State.SUPERSEDED)
        event_record(session=live, name=Name.RESET, source=source, detail={"superseded": True})
    return _session_start(user=user, source=source)


def _still_valid(step_def, answers, user) -> dict:
    """Return the fields of ``answers`` that still pass the step's form."""
    if not answers:
        return {}
    form = step_def.form(data=answers, user=user)
    form.is_valid()
    return {name: form.cleaned_data[name] for name in answers if name in form.cleaned_data and name not in form.errors}


def _step_or_error(step: str):
    try:
        return get_step(step)
    except (UnknownStep, TypeError):
        raise StepValidationError([issue(str(step)[:80], None, "unknown_step", f"“{str(step)[:80]}” is not an onboarding step.")])


def _check_reachable(session: OnboardingSession, step: str) -> None:
    if not step_is_reachable(session, step):
        outstanding = first_outstanding_step(session)
        raise StepValidationError(
            [issue(step, None, "step_not_reached", f"Finish “{get_step(outstanding).title}” first.")],
            blocking_step=outstanding,
        )


def _with(items: list, key: str) -> list:
    return items if key in items else [*items, key]


def _without(items: list, key: str) -> list:
    return [item for item in items if item != key]
