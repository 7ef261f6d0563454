"""The mechanics every session write shares: locking, revision checks, compare-and-swap."""
from django.db.models import Q
from django.utils import timezone

from ..errors import RevisionConflict, RevisionRequired, SessionAlreadyCompleted, StepValidationError, issue
from ..manifest import Step, snake_key
from ..models import OnboardingSession, new_revision
from ..selectors import first_outstanding_step

HISTORY_LIMIT = 50
_MISSING = None  # answers never hold None, so None marks "no value at that revision"


def session_lock(session_id) -> OnboardingSession:
    """Fetch a session under a row lock (the caller owns the transaction)."""
    # OF self: the joined user row is read, not locked.
    return OnboardingSession.objects.select_for_update(of=("self",)).select_related("user").get(pk=session_id)


def session_lock_live(user_id) -> OnboardingSession | None:
    """Fetch the user's live session under a row lock, or None if none or the user is inactive.

    The caller owns the transaction. The user row is joined to check ``is_active`` but not read:
    most writes never need it (the step forms get it lazily).
    """
    live = OnboardingSession.objects.select_for_update(of=("self",)).filter(
        ~Q(state=OnboardingSession.State.SUPERSEDED), user_id=user_id, user__is_active=True
    )
    try:
        return live.get()  # at most one: uniq_live_onboarding_session (no ORDER BY, unlike first())
    except OnboardingSession.DoesNotExist:
        return None


def check_revision(session: OnboardingSession, revision: str | None) -> None:
    """Raise unless ``revision`` is the session's current one and the session is writable."""
    if not revision:
        raise RevisionRequired()
    if session.is_completed:
        raise SessionAlreadyCompleted()
    if str(revision).strip('"') != session.revision:
        raise RevisionConflict(session=session, changed_fields=changed_fields_since(session, str(revision).strip('"')))


def changed_fields_since(session: OnboardingSession, revision: str) -> list[dict]:
    """Return the (step, field) pairs whose value now differs from their value at ``revision``.

    Each write keeps, in ``data["history"]``, the values it replaced; replaying the entries
    written after ``revision`` gives each touched field's value as the stale client saw it.
    A revision older than the kept history counts every answered field as changed.
    """
    history = session.data.get("history", [])
    start = next((i for i, entry in enumerate(history) if entry["from"] == revision), None)
    answers = session.answers
    if start is None:
        return [{"step": s, "field": f} for s, fields in answers.items() for f in fields]
    seen_then: dict[tuple[str, str], object] = {}
    for entry in history[start:]:
        for step, fields in entry["before"].items():
            for field, value in fields.items():
                seen_then.setdefault((step, field), value)
    return [
        {"step": step, "field": field}
        for (step, field), then in seen_then.items()
        if answers.get(step, {}).get(field, _MISSING) != then
    ]


def answers_before(old: dict, new: dict) -> dict:
    """Return, per step, the old value of every field whose value changes from ``old`` to ``new``."""
    before: dict[str, dict] = {}
    for step in set(old) | set(new):
        old_fields, new_fields = old.get(step, {}), new.get(step, {})
        for field in set(old_fields) | set(new_fields):
            if old_fields.get(field, _MISSING) != new_fields.get(field, _MISSING):
                before.setdefault(step, {})[field] = old_fields.get(field, _MISSING)
    return before


def commit_write(session: OnboardingSession, *, old_answers: dict, **columns) -> OnboardingSession:
    """Write ``session.data`` (and ``columns``) under a new revision, if nobody wrote first."""
    old_revision, now = session.revision, timezone.now()
    entry = {"from": old_revision, "before": answers_before(old_answers, session.answers)}
    session.data["history"] = (session.data.get("history", []) + [entry])[-HISTORY_LIMIT:]
    if not columns.pop("keep_notice", False):
        session.data.pop("notice", None)  # a one-off message is shown until the next write
    session.revision = new_revision()
    session.updated_at = now
    requested_step = columns.pop("current_step", None)
    session.current_step = "" if session.is_completed else (requested_step or first_outstanding_step(session) or "")
    # The event the caller records next is stamped in this same UPDATE (one round trip fewer).
    session.previous_event_at, session.last_event_at = session.last_event_at, now
    for name, value in columns.items():
        setattr(session, name, value)
    written = OnboardingSession.objects.filter(pk=session.pk, revision=old_revision).update(
        revision=session.revision, data=session.data, updated_at=now, current_step=session.current_step,
        last_event_at=now, **columns,
    )
    if written != 1:  # only reachable without the row lock (SQLite); CAS keeps one winner anyway
        fresh = OnboardingSession.objects.get(pk=session.pk)
        raise RevisionConflict(session=fresh, changed_fields=changed_fields_since(fresh, old_revision))
    return session


def normalise_answers(step: Step, answers) -> dict:
    """Return answers with snake_case keys; reject unknown fields and non-JSON-scalar values."""
    if not isinstance(answers, dict):
        raise StepValidationError([issue(step.key, None, "invalid", "Answers must be an object of field: value.")])
    normalised, issues = {}, []
    for key, value in answers.items():
        name = snake_key(key)
        if name not in step.kinds:
            issues.append(issue(step.key, str(key)[:80], "unknown_field", f"“{str(key)[:80]}” is not a field of {step.key}."))
        elif not _is_plain_value(value):
            issues.append(issue(step.key, name, "invalid_type", "Use text, a number, true/false or a list of text."))
        else:
            normalised[name] = value
    if issues:
        raise StepValidationError(issues)
    return normalised


def _is_plain_value(value) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value)
    return value is None or isinstance(value, (str, int, float, bool))


def step_validate(*, step: Step, answers: dict, user) -> dict:
    """Validate a step's answers with its form and return the cleaned values."""
    form = step.form(data=answers, user=user)
    if form.is_valid():
        return {name: form.cleaned_data[name] for name in step.field_names}
    raise StepValidationError([
        issue(step.key, None if field == "__all__" else field, error.code or "invalid", " ".join(error.messages))
        for field, errors in form.errors.as_data().items()
        for error in errors
    ])
