"""Session writes: start, save a step, skip, go back, draft, reset. The only writers of sessions."""
import copy
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.functional import SimpleLazyObject

from ..errors import AccountInactive, RevisionConflict, StepValidationError, issue
from ..manifest import ANSWER_SCHEMA_VERSION, STEP_KEYS, STEPS, get_step, step_index, UnknownStep
from ..models import OnboardingEvent, OnboardingSession
from ..selectors import first_outstanding_step, session_live_for_user, step_is_reachable
from .events import event_record, event_record_resumed_if_away
from .writes import (
    check_revision, commit_write, normalise_answers, session_lock, session_lock_live, step_validate,
)

Name = OnboardingEvent.Name
RESET_NOTICE = "Onboarding has changed since you started. Please review your answers; we kept the ones that still apply."


def session_get_or_start(*, user, source: str) -> OnboardingSession:
    """Return the user's live session, starting one or resetting an outdated one as needed."""
    session = session_live_for_user(user)
    if session is None:
        return _session_start(user=user, source=source)
    if _is_outdated(session):
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


class _SessionNotReady(Exception):
    """The user has no live session of the current version: start or reset it, then lock again."""


def session_write(*, session: OnboardingSession | None, user, step: str, source: str,
                  write: Callable[[OnboardingSession], OnboardingSession]) -> OnboardingSession:
    """Apply ``write`` to the user's live session, locked, in one transaction; return the session.

    ``user`` may be anything with the user's ``pk`` (the API passes a bearer token's): the
    session is found by its owner under the lock, which also checks the user is active, so the
    caller needs no read first, and an inactive or deleted account is refused (AccountInactive). A missing or
    outdated session is started or reset, then locked again. Validation failures and revision
    conflicts are recorded once their transaction has rolled back.
    """
    user_id = session.user_id if session is not None else user.pk
    for _ in range(3):  # a start or reset in between: the second lock finds it (the third: raced again)
        locked = seen_at = None
        try:
            with transaction.atomic():
                locked = session_lock_live(user_id)
                if locked is None or _is_outdated(locked):
                    raise _SessionNotReady()
                seen_at = locked.last_event_at
                event_record_resumed_if_away(session=locked, source=source)
                return write(locked)
        except _SessionNotReady:
            session_get_or_start(user=_active_user(user_id), source=source)
        except (StepValidationError, RevisionConflict) as exc:
            if locked is not None:
                _failure_record(locked, seen_at=seen_at, exc=exc, step=step, source=source)
            raise
    raise RevisionConflict(session=session_get_or_start(user=_active_user(user_id), source=source), changed_fields=[])


def _active_user(user_id):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise AccountInactive()
    return user


def _is_outdated(session: OnboardingSession) -> bool:
    return session.state == OnboardingSession.State.IN_PROGRESS and session.version < settings.ONBOARDING_VERSION


def _failure_record(session: OnboardingSession, *, seen_at, exc, step: str, source: str) -> None:
    # The transaction rolled back: put the in-memory session back as the database has it.
    session.last_event_at = seen_at
    session.__dict__.pop("previous_event_at", None)
    event_record_resumed_if_away(session=session, source=source)
    if isinstance(exc, StepValidationError):
        event_record(session=session, name=Name.VALIDATION_FAILED, source=source, step=step,
                     detail={"issues": [{"field": i["field"], "code": i["code"]} for i in exc.issues][:20]})
    else:
        event_record(session=session, name=Name.REVISION_CONFLICT, source=source, step=step,
                     detail={"changed_fields": exc.changed_fields[:20]})


def session_save_step(*, session: OnboardingSession | None = None, user=None, step: str, answers: dict,
                      revision: str, source: str) -> OnboardingSession:
    """Validate a step's answers, store them and mark the step done (``session`` or its ``user``)."""
    step_def = _step_or_error(step)

    def save(session: OnboardingSession) -> OnboardingSession:
        check_revision(session, revision)
        _check_reachable(session, step_def.key)
        # Only some forms look at the user (invites: not your own address): read it when they do.
        cleaned = step_validate(step=step_def, answers=normalise_answers(step_def, answers),
                                user=SimpleLazyObject(lambda: session.user))
        old_answers = dict(session.answers)  # writes replace a step's dict, never change one in place
        data = session.data
        data.setdefault("answers", {})[step_def.key] = cleaned
        data["completed_steps"] = _with(data.get("completed_steps", []), step_def.key)
        data["skipped_steps"] = _without(data.get("skipped_steps", []), step_def.key)
        data.get("drafts", {}).pop(step_def.key, None)
        commit_write(session, old_answers=old_answers)
        event_record(session=session, name=Name.STEP_SAVED, source=source, step=step_def.key)
        return session

    return session_write(session=session, user=user, step=step_def.key, source=source, write=save)


def session_skip_step(*, session: OnboardingSession | None = None, user=None, step: str, revision: str,
                      source: str) -> OnboardingSession:
    """Mark a skippable step skipped; its answers, if any, no longer count."""
    step_def = _step_or_error(step)

    def skip(session: OnboardingSession) -> OnboardingSession:
        check_revision(session, revision)
        _check_reachable(session, step_def.key)
        if not step_def.skippable:
            raise StepValidationError([issue(step_def.key, None, "not_skippable", f"“{step_def.title}” can't be skipped.")])
        old_answers = dict(session.answers)
        data = session.data
        data.get("answers", {}).pop(step_def.key, None)
        data.get("drafts", {}).pop(step_def.key, None)
        data["skipped_steps"] = _with(data.get("skipped_steps", []), step_def.key)
        data["completed_steps"] = _without(data.get("completed_steps", []), step_def.key)
        commit_write(session, old_answers=old_answers)
        event_record(session=session, name=Name.STEP_SKIPPED, source=source, step=step_def.key)
        return session

    return session_write(session=session, user=user, step=step_def.key, source=source, write=skip)


def session_go_back(*, session: OnboardingSession | None = None, user=None, step: str, revision: str,
                    source: str) -> OnboardingSession:
    """Un-mark the step before ``step`` and make it the current one."""
    step_def = _step_or_error(step)

    def go_back(session: OnboardingSession) -> OnboardingSession:
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

    return session_write(session=session, user=user, step=step_def.key, source=source, write=go_back)


def session_save_draft(*, session: OnboardingSession | None = None, user=None, step: str, answers: dict,
                       revision: str, source: str) -> OnboardingSession:
    """Keep partial, unvalidated answers of a step (autosave); known fields only."""
    step_def = _step_or_error(step)

    def save_draft(session: OnboardingSession) -> OnboardingSession:
        check_revision(session, revision)
        draft = normalise_answers(step_def, answers)
        drafts = session.data.setdefault("drafts", {})
        drafts[step_def.key] = {**drafts.get(step_def.key, {}), **draft}
        commit_write(session, old_answers=session.answers, current_step=session.current_step)
        event_record(session=session, name=Name.DRAFT_SAVED, source=source, step=step_def.key)
        return session

    return session_write(session=session, user=user, step=step_def.key, source=source, write=save_draft)


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
