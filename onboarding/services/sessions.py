"""Session writes: start, save a step, skip, go back, draft, reset. The only writers of sessions.

Every change to a live session goes through ``session_locked``::

    with session_locked(user=user, revision=revision, source=source, step=step) as unit:
        ...check the rules, change unit.session.data...
        unit.record(Name.STEP_SAVED, step=step)
    return unit.session

Entering locks the user's live session (``SELECT ... FOR UPDATE``, found by its owner, so the
caller reads nothing first) and checks the revision. Leaving cleanly writes the session row under
a new revision, with a history entry for conflict diffing, and inserts the event ``unit.record``
named, in the same transaction; the event's duration is the time since the event before it, taken
from the locked row. A refused write (StepValidationError, RevisionConflict) rolls back and is
then recorded as ``validation_failed`` / ``revision_conflict``.
"""

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import RevisionConflict, RevisionRequired, StepValidationError, issue
from ..flag_decisions import flags_decide
from ..flow import first_outstanding_step, step_is_reachable
from ..manifest import (
    ANSWER_SCHEMA_VERSION,
    MANIFEST_FLAGS,
    STEP_KEYS,
    Step,
    UnknownStep,
    canonical_step_key,
    get_step,
    session_manifest,
)
from ..models import OnboardingEvent, OnboardingSession
from ..selectors import manifest_of, session_live_for_user
from .answer_rules import answers_as_saved, normalise_answers, step_validate
from .events import event_insert, event_record, event_record_resumed_if_away
from .write_protocol import (
    Mine,
    SessionWrite,
    check_revision,
    revision_conflict,
    session_is_outdated,
    session_lock_live,
)

Name = OnboardingEvent.Name
RESET_NOTICE = (
    "Onboarding has changed since you started. Please review your answers; we kept the ones that still apply."
)
FLAGS_RESET_NOTICE = (
    "Some onboarding questions have changed for you since you started. Please review your answers; "
    "we kept the ones that still apply."
)


@contextmanager
def session_locked(
    *,
    user,
    revision: str | None,
    source: str,
    step: str,
    completed_ok: bool = False,
    mine: Mine | None = None,
) -> Iterator[SessionWrite]:
    """Lock the user's live session, check ``revision``, yield the write; write it on a clean exit.

    ``step`` names the step a refusal is recorded against. ``completed_ok``: a completed session is
    yielded without a revision check (completing twice answers the first result) instead of being
    refused. ``mine``: what the write would store, so that a conflict names only the fields it
    disagrees on (without it, every field changed since ``revision``). A user without a live session of the current version first gets one (started, or reset
    to the new baseline), then a revision conflict: the client cannot have seen that revision.
    """
    unit = None
    try:
        with transaction.atomic():
            session = session_lock_live(user)
            if session is not None and not session_is_outdated(session):
                unit = SessionWrite.begin(session, user=user, source=source)
                if not (completed_ok and session.is_completed):
                    check_revision(session, revision, mine=mine)
                yield unit
                unit.write()
    except (StepValidationError, RevisionConflict) as exc:
        if unit is not None:
            _refusal_record(unit, exc, step=step)
        raise
    if unit is None:
        fresh = session_get_or_start(user=user, source=source)
        if not revision:
            raise RevisionRequired()
        conflict = revision_conflict(fresh, revision, mine=mine)
        event_record(
            session=fresh,
            name=Name.REVISION_CONFLICT,
            source=source,
            step=step,
            detail={"changed_fields": conflict.changed_fields[:20]},
        )
        raise conflict


@contextmanager
def _step_locked(
    *, user, step: str, revision: str | None, source: str, answers=None, every_field: bool = True
) -> Iterator[tuple[SessionWrite, Step]]:
    """Lock the live session for a write to ``step`` (as session_locked); yield the write and the step as the session sees it.

    ``answers``: what the write stores for the step (``{}`` empties it, None touches no answer);
    ``every_field``: whether fields left out of ``answers`` are emptied (a save) or kept (a draft).
    """
    key = _step_key_or_error(step)
    mine = None
    if answers is not None:

        def mine(session):
            return {key: answers_as_saved(_session_step(session, key), answers, user, every_field=every_field)}

    with session_locked(user=user, revision=revision, source=source, step=key, mine=mine) as unit:
        yield unit, _session_step(unit.session, key)


def _refusal_record(unit: SessionWrite, exc: Exception, *, step: str) -> None:
    """Record why a write was refused, once its transaction has rolled back (timing as locked)."""
    session = unit.session
    session.last_event_at = unit.previous_event_at
    if unit.resumed:
        event_record(session=session, source=unit.source, **unit.resumed)
    if isinstance(exc, StepValidationError):
        detail = {"issues": [{"field": i["field"], "code": i["code"]} for i in exc.issues][:20]}
        event_record(session=session, name=Name.VALIDATION_FAILED, source=unit.source, step=step, detail=detail)
    else:
        event_record(
            session=session,
            name=Name.REVISION_CONFLICT,
            source=unit.source,
            step=step,
            detail={"changed_fields": exc.changed_fields[:20]},
        )


def session_get_or_start(*, user, source: str) -> OnboardingSession:
    """Return the user's live session, starting one or resetting an outdated one as needed."""
    session = session_live_for_user(user)
    if session is None:
        return _session_start(user=user, source=source)
    if session_is_outdated(session):
        return session_reset_to_baseline(user=user, source=source)
    event_record_resumed_if_away(session=session, source=source)
    return session


def _session_start(*, user, source: str) -> OnboardingSession:
    """Start a session; its flags are decided here, once, and kept with it (``data["flags"]``)."""
    flags = flags_decide(user=user)
    try:
        with transaction.atomic():
            now = timezone.now()
            session = OnboardingSession.objects.create(
                user=user,
                version=settings.ONBOARDING_VERSION,
                answer_schema_version=ANSWER_SCHEMA_VERSION,
                current_step=STEP_KEYS[0],
                last_event_at=now,
                data={
                    "answers": {},
                    "completed_steps": [],
                    "skipped_steps": [],
                    "drafts": {},
                    "history": [],
                    "flags": flags,
                },
            )
            event_insert(session=session, name=Name.STARTED, source=source, step=STEP_KEYS[0], at=now, since=None)
    except IntegrityError:  # a concurrent request started it first
        return session_live_for_user(user)
    return session


def session_save_step(*, user, step: str, answers: dict, revision: str, source: str) -> OnboardingSession:
    """Validate a step's answers, store them and mark the step done."""
    with _step_locked(user=user, step=step, revision=revision, source=source, answers=answers) as (
        unit,
        step_def,
    ):
        _check_reachable(unit.session, step_def.key)
        cleaned = step_validate(step=step_def, answers=normalise_answers(step_def, answers), user=unit.user)
        data = unit.session.data
        data.setdefault("answers", {})[step_def.key] = cleaned
        data["completed_steps"] = _with(data.get("completed_steps", []), step_def.key)
        data["skipped_steps"] = _without(data.get("skipped_steps", []), step_def.key)
        data.get("drafts", {}).pop(step_def.key, None)
        unit.record(Name.STEP_SAVED, step=step_def.key)
    return unit.session


def session_skip_step(*, user, step: str, revision: str, source: str) -> OnboardingSession:
    """Mark a skippable step skipped; its answers, if any, no longer count."""
    with _step_locked(user=user, step=step, revision=revision, source=source, answers={}) as (
        unit,
        step_def,
    ):
        _check_reachable(unit.session, step_def.key)
        if not step_def.skippable:
            raise StepValidationError(
                [
                    issue(
                        step_def.key,
                        None,
                        "not_skippable",
                        _("“%(step)s” can't be skipped.") % {"step": step_def.title},
                    )
                ]
            )
        data = unit.session.data
        data.get("answers", {}).pop(step_def.key, None)
        data.get("drafts", {}).pop(step_def.key, None)
        data["skipped_steps"] = _with(data.get("skipped_steps", []), step_def.key)
        data["completed_steps"] = _without(data.get("completed_steps", []), step_def.key)
        unit.record(Name.STEP_SKIPPED, step=step_def.key)
    return unit.session


def session_go_back(*, user, step: str, revision: str, source: str) -> OnboardingSession:
    """Un-mark the step before ``step`` and make it the current one."""
    with _step_locked(user=user, step=step, revision=revision, source=source, answers={}, every_field=False) as (
        unit,
        step_def,
    ):
        previous = manifest_of(unit.session).previous_step(step_def.key)
        if previous is None:
            raise StepValidationError([issue(step_def.key, None, "no_previous_step", _("This is the first step."))])
        data = unit.session.data
        data["completed_steps"] = _without(data.get("completed_steps", []), previous)
        data["skipped_steps"] = _without(data.get("skipped_steps", []), previous)
        unit.current_step = previous
        unit.record(Name.STEP_BACK, step=previous)
    return unit.session


def session_save_draft(*, user, step: str, answers: dict, revision: str, source: str) -> OnboardingSession:
    """Keep partial, unvalidated answers of a step (autosave); known fields only."""
    with _step_locked(user=user, step=step, revision=revision, source=source, answers=answers, every_field=False) as (
        unit,
        step_def,
    ):
        draft = normalise_answers(step_def, answers)
        drafts = unit.session.data.setdefault("drafts", {})
        drafts[step_def.key] = {**drafts.get(step_def.key, {}), **draft}
        unit.current_step = unit.session.current_step  # a draft leaves the user where they are
        unit.record(Name.DRAFT_SAVED, step=step_def.key)
    return unit.session


@transaction.atomic
def session_reset_to_baseline(*, user, source: str) -> OnboardingSession | None:
    """Bring the user's in-progress session of an older version to the current baseline, keeping valid answers."""
    session = session_lock_live(user)
    if session is not None and session_is_outdated(session):
        _session_rebase(session, user=user, source=source)
    return session


@transaction.atomic
def session_redecide_flags(*, user, flags: Collection[str], source: str) -> bool:
    """Decide ``flags`` again for the user's in-progress session (staff's re-decision); return whether it changed.

    A changed decision resets the session to the baseline the new flags give, as a version reset
    does: the answers that still validate are kept, a notice says why, a ``reset`` event records it.
    """
    session = session_lock_live(user)
    if session is None or session.state != OnboardingSession.State.IN_PROGRESS:
        return False
    return _session_rebase(session, user=user, source=source, redecide=flags)


def _session_rebase(session: OnboardingSession, *, user, source: str, redecide: Collection[str] = ()) -> bool:
    """Reset a locked in-progress session to the current baseline; return False, writing nothing, if it is there.

    The baseline: the current version, and the session's flags, of which those in ``redecide`` (and,
    for an outdated session, those it never decided) are decided now. The session keeps the answers
    that still validate under the steps those flags give, and every step is to be reviewed again.
    """
    outdated, old_flags = session_is_outdated(session), session.flags
    names = [name for name in MANIFEST_FLAGS if name in redecide or (outdated and name not in old_flags)]
    flags = {**old_flags, **flags_decide(user=user, names=names)}
    changed = {name: flags[name] for name in names if flags[name] != old_flags.get(name, False)}
    if not outdated and not changed:
        return False
    unit = SessionWrite.begin(session, user=user, source=source)
    manifest = session_manifest(flags)
    kept = {s.key: fields for s in manifest.steps if (fields := _still_valid(s, session.answers.get(s.key), user))}
    session.data.update(answers=kept, completed_steps=[], skipped_steps=[], drafts={}, flags=flags)
    session.version, session.answer_schema_version = settings.ONBOARDING_VERSION, ANSWER_SCHEMA_VERSION
    unit.current_step, unit.notice = manifest.step_keys[0], RESET_NOTICE if outdated else FLAGS_RESET_NOTICE
    unit.record(
        Name.RESET,
        detail={"kept_steps": sorted(kept), "to_version": settings.ONBOARDING_VERSION, "flags_changed": changed},
    )
    unit.write()
    return True


@transaction.atomic
def session_restart(*, user, source: str) -> OnboardingSession:
    """Supersede the user's live session (staff reset) and start a fresh one."""
    live = session_lock_live(user)
    if live is not None:
        OnboardingSession.objects.filter(pk=live.pk).update(state=OnboardingSession.State.SUPERSEDED)
        event_record(session=live, name=Name.RESET, source=source, detail={"superseded": True})
    return _session_start(user=user, source=source)


def _still_valid(step_def: Step, answers, user) -> dict:
    """Return the fields of ``answers`` that still pass the step's form."""
    if not answers:
        return {}
    form = step_def.form(data=answers, user=user)
    form.is_valid()
    return {name: form.cleaned_data[name] for name in answers if name in form.cleaned_data and name not in form.errors}


def _step_key_or_error(step: str) -> str:
    try:
        return canonical_step_key(step)
    except (UnknownStep, TypeError):
        raise _unknown_step(step) from None


def _session_step(session: OnboardingSession, key: str) -> Step:
    """Return the step as this session sees it (its flags decide which steps and fields it has)."""
    try:
        return manifest_of(session).get_step(key)
    except UnknownStep:
        raise _unknown_step(key) from None


def _unknown_step(step) -> StepValidationError:
    return StepValidationError(
        [
            issue(
                str(step)[:80],
                None,
                "unknown_step",
                _("“%(step)s” is not an onboarding step.") % {"step": str(step)[:80]},
            )
        ]
    )


def _check_reachable(session: OnboardingSession, step: str) -> None:
    if not step_is_reachable(session, step):
        outstanding = first_outstanding_step(session)
        raise StepValidationError(
            [
                issue(
                    step,
                    None,
                    "step_not_reached",
                    _("Finish “%(step)s” first.") % {"step": get_step(outstanding).title},
                )
            ],
            blocking_step=outstanding,
        )


def _with(items: list, key: str) -> list:
    return items if key in items else [*items, key]


def _without(items: list, key: str) -> list:
    return [item for item in items if item != key]
