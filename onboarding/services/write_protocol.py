"""The write protocol of a session: ``SessionWrite``, the row lock, revision checks, conflict diffing.

``sessions.session_locked`` puts them together; the answer rules every write shares are in ``answer_rules``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from ..errors import RevisionConflict, RevisionRequired, SessionAlreadyCompleted
from ..flow import first_outstanding_step
from ..manifest import session_manifest
from ..models import OnboardingSession, new_revision
from .events import event_insert, resumed_event

HISTORY_LIMIT = 50
# Columns a write may change besides its data (completion, a version reset): written only when it does.
CHANGEABLE_COLUMNS = ("state", "completed_at", "version", "answer_schema_version")
_MISSING = None  # answers never hold None, so None marks "no value at that revision"


@dataclass
class SessionWrite:
    """One write of a locked session: the changes a service makes, and the event that records them.

    A service changes ``session`` (its ``data`` and columns), may set where the write leaves the
    user (``current_step``; default: the first outstanding step) and a one-off ``notice`` shown until
    the next write, and names the event with ``record``. ``write`` then stores it all at once.
    """

    session: OnboardingSession
    user: object
    source: str
    previous_event_at: datetime | None  # the session's last event as locked: this write's event counts from it
    resumed: dict | None  # the "resumed" event that goes first, when the user was away long enough
    old_answers: dict  # the answers as locked: what the history entry diffs against
    old_columns: dict  # CHANGEABLE_COLUMNS as locked
    current_step: str | None = None
    notice: str | None = None
    event: dict | None = field(default=None, repr=False)

    @classmethod
    def begin(cls, session: OnboardingSession, *, user, source: str) -> "SessionWrite":
        """Start a write of ``session``, which the caller has locked."""
        # Writes replace a step's dict, never change one in place: a shallow copy is the state as locked.
        return cls(
            session=session,
            user=user,
            source=source,
            previous_event_at=session.last_event_at,
            resumed=resumed_event(session),
            old_answers=dict(session.answers),
            old_columns={name: getattr(session, name) for name in CHANGEABLE_COLUMNS},
        )

    def record(self, name: str, *, step: str = "", detail: dict | None = None) -> None:
        """Name the event this write records (inserted with the session row by ``write``)."""
        self.event = {"name": name, "step": step, "detail": detail}

    def write(self) -> None:
        """Write the session row under a new revision and insert its events, if an event was recorded."""
        if self.event is None:
            return
        session, now, old_revision = self.session, timezone.now(), self.session.revision
        data = session.data
        entry = {"from": old_revision, "before": answers_before(self.old_answers, session.answers)}
        data["history"] = (data.get("history", []) + [entry])[-HISTORY_LIMIT:]
        if self.notice:
            data["notice"] = self.notice
        else:
            data.pop("notice", None)  # a one-off message is shown until the next write
        session.revision, session.updated_at, session.last_event_at = new_revision(), now, now
        session.current_step = (
            "" if session.is_completed else (self.current_step or first_outstanding_step(session) or "")
        )
        changed = {
            name: getattr(session, name) for name, old in self.old_columns.items() if getattr(session, name) != old
        }
        written = OnboardingSession.objects.filter(pk=session.pk, revision=old_revision).update(
            revision=session.revision,
            data=data,
            updated_at=now,
            last_event_at=now,
            current_step=session.current_step,
            **changed,
        )
        if written != 1:  # only reachable without row locks (SQLite); the compare-and-swap keeps one winner
            fresh = OnboardingSession.objects.get(pk=session.pk)
            raise RevisionConflict(session=fresh, changed_fields=changed_fields_since(fresh, old_revision))
        since = self.previous_event_at
        if self.resumed:
            event_insert(session=session, source=self.source, at=now, since=since, **self.resumed)
            since = now
        event_insert(session=session, source=self.source, at=now, since=since, **self.event)


LIVE_STATES = (OnboardingSession.State.IN_PROGRESS, OnboardingSession.State.COMPLETED)


def session_lock_live(user) -> OnboardingSession | None:
    """Fetch the user's live session under a row lock, or None (the caller owns the transaction).

    The user's row comes joined (not locked): a user the API knows by its token's id only
    (``onboarding.api.authentication.TokenUser``) adopts it, so the write reads no user row of its own.
    """
    live = (
        OnboardingSession.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(user_id=user.pk, state__in=LIVE_STATES)
    )
    try:
        session = live.get()  # at most one: uniq_live_onboarding_session (no ORDER BY, unlike first())
    except OnboardingSession.DoesNotExist:
        return None
    adopt = getattr(user, "adopt", None)
    if adopt is not None:
        adopt(session.user)
    return session


def session_is_outdated(session: OnboardingSession) -> bool:
    """Tell whether an in-progress session belongs to an older onboarding version (it must be reset first)."""
    return session.state == OnboardingSession.State.IN_PROGRESS and session.version < settings.ONBOARDING_VERSION


# What a refused write would have stored, by step and field, given the session it was refused on.
Mine = Callable[[OnboardingSession], dict[str, dict]]


def check_revision(session: OnboardingSession, revision: str | None, *, mine: Mine | None = None) -> None:
    """Raise unless ``revision`` is the session's current one and the session is writable.

    ``mine``: what the write would store; the conflict then names only the fields it disagrees on.
    """
    if not revision:
        raise RevisionRequired()
    if session.is_completed:
        raise SessionAlreadyCompleted()
    if str(revision).strip('"') != session.revision:
        raise revision_conflict(session, revision, mine=mine)


def revision_conflict(session: OnboardingSession, revision: str, *, mine: Mine | None = None) -> RevisionConflict:
    """Return the conflict of a write based on ``revision``: the fields changed since, that it disagrees on."""
    changed = changed_fields_since(session, str(revision).strip('"'))
    if mine is not None:
        changed = fields_disagreeing(session, changed, mine(session))
    return RevisionConflict(session=session, changed_fields=changed)


def comparable(value):
    """Return an answer as conflicts compare it: empty values alike, text trimmed, lists in any order."""
    if value is None or value is False or value == "" or value == [] or value == ():
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (list, tuple)):
        return tuple(sorted(str(item).strip() for item in value))
    return value


def changed_fields_since(session: OnboardingSession, revision: str) -> list[dict]:
    """Return the (step, field) pairs whose value now differs from their value at ``revision``.

    Each write keeps, in ``data["history"]``, the values it replaced; replaying the entries
    written after ``revision`` gives each touched field's value as the stale client saw it.
    Values are compared normalised (``comparable``): a change and its undoing, or an empty value
    stored differently, is no change. A revision older than the kept history counts every
    answered field as changed.
    """
    history = session.data.get("history", [])
    start = next((i for i, entry in enumerate(history) if entry["from"] == revision), None)
    answers = session.answers
    if start is None:
        changed = [(s, f) for s, fields in answers.items() for f, v in fields.items() if comparable(v)]
    else:
        seen_then: dict[tuple[str, str], object] = {}
        for entry in history[start:]:
            for step, fields in entry["before"].items():
                for name, value in fields.items():
                    seen_then.setdefault((step, name), value)
        changed = [
            (step, name)
            for (step, name), then in seen_then.items()
            if comparable(answers.get(step, {}).get(name, _MISSING)) != comparable(then)
        ]
    changed.sort(key=_manifest_order(session))
    return [{"step": step, "field": name} for step, name in changed]


def _manifest_order(session: OnboardingSession):
    """Return a sort key putting (step, field) pairs in the order the session's wizard shows them."""
    fields = [(step.key, name) for step in session_manifest(session.flags).steps for name in step.field_names]
    order = {item: index for index, item in enumerate(fields)}
    return lambda item: order.get(item, len(order))


def fields_disagreeing(session: OnboardingSession, changed: list[dict], mine: dict[str, dict]) -> list[dict]:
    """Keep the ``changed`` fields that ``mine`` (step → field → value) would set to another value than now."""
    answers = session.answers
    return [
        item
        for item in changed
        if item["field"] in mine.get(item["step"], {})
        and comparable(mine[item["step"]][item["field"]])
        != comparable(answers.get(item["step"], {}).get(item["field"]))
    ]


def answers_before(old: dict, new: dict) -> dict:
    """Return, per step, the old value of every field whose value changes from ``old`` to ``new``."""
    before: dict[str, dict] = {}
    for step in set(old) | set(new):
        old_fields, new_fields = old.get(step, {}), new.get(step, {})
        for name in set(old_fields) | set(new_fields):
            if old_fields.get(name, _MISSING) != new_fields.get(name, _MISSING):
                before.setdefault(step, {})[name] = old_fields.get(name, _MISSING)
    return before
