"""Ingestion of completion messages: the one writer of snapshots and totals.

Every completion reaches the store through ``snapshot_ingest_batch`` (the live task with one
message, the backfill with a batch), so both share normalisation, ordering and the totals delta.
Lock order, the same in every transaction, keeps concurrent workers free of deadlocks: the
sessions' rows (sorted by id; an erasure takes them first too), snapshot rows (sorted by session
id), then total rows (sorted by key), then the totals by experiment arm (sorted by key).
"""

import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from onboarding.models import OnboardingSession, Workspace

from ..models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot, ErasedSession
from ..signals import snapshot_stored
from .normalise import Completion, arm_counted_answers, completions_from_messages, counted_answers

logger = logging.getLogger(__name__)

CREATED, UPDATED, UNCHANGED, STALE, ERASED = "created", "updated", "unchanged", "stale", "erased"
OUTCOMES = (CREATED, UPDATED, UNCHANGED, STALE, ERASED)
_SNAPSHOT_COLUMNS = (
    "user_id",
    "workspace_id",
    "role",
    "answer_schema_version",
    "completed_at",
    "answers",
    "flattened",
    "flags",
    "ingested_at",
)
_JSON_COLUMNS = ("answers", "flattened", "flags")
_INSERT_ATTEMPTS = 3
_UPSERT_CHUNK = 500


def snapshot_ingest(*, message: dict) -> str:
    """Apply one completion message to its snapshot and the totals; return the outcome."""
    return snapshot_ingest_batch(messages=[message])[0]


def snapshot_ingest_batch(*, messages: list[dict], announce: bool = True) -> list[str]:
    """Apply completion messages in one transaction; return each message's outcome, in order.

    Outcomes: ``created``, ``updated`` (a newer or different message), ``unchanged`` (a repeat),
    ``stale`` (older than the stored snapshot, ignored), ``erased`` (the session's data was erased
    meanwhile: nothing is stored). Raises InvalidCompletionMessage.
    ``announce``: send ``snapshot_stored`` for each created or updated snapshot, in the same
    transaction (the live path does; the backfill replays history and does not).
    """
    completions = completions_from_messages(messages)
    for attempt in range(1, _INSERT_ATTEMPTS + 1):
        try:
            return _ingest(completions, announce=announce)
        except IntegrityError:
            # A concurrent ingestion inserted one of these snapshots first; the next attempt finds
            # and locks its row. A lasting violation (the user was deleted) is raised.
            if attempt == _INSERT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _ingest(completions: list[Completion], *, announce: bool) -> list[str]:
    ids = sorted({completion.session_id for completion in completions})
    erased = _erased_meanwhile(ids)
    locked = AnswerSnapshot.objects.select_for_update().filter(session_id__in=ids).order_by("session_id")
    locked = locked.defer("flattened")  # derived from answers: not needed to compare or to subtract
    current = {snapshot.session_id: snapshot for snapshot in locked}
    stored_ids = set(current)
    workspaces = _workspaces_existing(completions)
    now, delta, arm_delta, written, outcomes = timezone.now(), Counter(), Counter(), {}, []
    for completion in completions:
        if completion.session_id in erased:
            outcomes.append(ERASED)
            continue
        previous = current.get(completion.session_id)
        outcome = _outcome(completion, workspaces[completion.session_id], previous)
        outcomes.append(outcome)
        if outcome in (CREATED, UPDATED):
            delta.update(completion.counted)
            delta.subtract(counted_answers(previous.answers) if previous else ())
            arm_delta.update(completion.arm_counted)
            arm_delta.subtract(arm_counted_answers(previous.answers, previous.flags) if previous else ())
            current[completion.session_id] = written[completion.session_id] = snapshot_build(
                completion, workspace_id=workspaces[completion.session_id], ingested_at=now
            )
    _snapshots_insert([written[pk] for pk in sorted(written) if pk not in stored_ids])
    AnswerSnapshot.objects.bulk_update(
        [written[pk] for pk in sorted(written) if pk in stored_ids], _SNAPSHOT_COLUMNS, batch_size=200
    )
    totals_apply_delta(delta=delta)
    arm_totals_apply_delta(delta=arm_delta)
    if announce:
        for session_id in sorted(written):
            snapshot_stored.send(sender=AnswerSnapshot, snapshot=written[session_id])
    return outcomes


def _workspaces_existing(completions: list[Completion]) -> dict:
    """Return each completion's workspace id, or None for a workspace deleted since (the snapshot's link is nulled then too)."""
    named = {c.workspace_id for c in completions if c.workspace_id is not None}
    existing = set(Workspace.objects.filter(pk__in=named).values_list("pk", flat=True)) if named else set()
    return {c.session_id: c.workspace_id if c.workspace_id in existing else None for c in completions}


def _erased_meanwhile(ids: list) -> set:
    """Lock the sessions' rows; return the ids erased (``aggregation.erasure``) before this ingestion.

    An erasure holds these rows until it commits, so either it waits for this ingestion and then
    erases its snapshot, or this ingestion waits for it and then finds the session's tombstone.
    """
    list(OnboardingSession.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk"))
    return set(ErasedSession.objects.filter(session_id__in=ids).values_list("session_id", flat=True))


def _outcome(completion: Completion, workspace_id: int | None, snapshot: AnswerSnapshot | None) -> str:
    if snapshot is None:
        return CREATED
    stored_key = (snapshot.completed_at, snapshot.answer_schema_version)
    if completion.order_key < stored_key:
        return STALE
    unchanged = (
        completion.order_key == stored_key
        and completion.answers == snapshot.answers
        and completion.user_id == snapshot.user_id
        and workspace_id == snapshot.workspace_id
        and completion.role == snapshot.role
        and completion.flags == snapshot.flags
    )
    return UNCHANGED if unchanged else UPDATED


def snapshot_build(completion: Completion, *, workspace_id: int | None, ingested_at=None) -> AnswerSnapshot:
    """Return the (unsaved) snapshot row of a normalised completion."""
    return AnswerSnapshot(
        session_id=completion.session_id,
        user_id=completion.user_id,
        workspace_id=workspace_id,
        role=completion.role,
        answer_schema_version=completion.answer_schema_version,
        completed_at=completion.completed_at,
        answers=completion.answers,
        flattened=completion.flattened,
        flags=completion.flags,
        ingested_at=ingested_at,
    )


def _snapshots_insert(snapshots: list[AnswerSnapshot]) -> None:
    if connection.vendor != "postgresql":
        AnswerSnapshot.objects.bulk_create(snapshots)
        return
    if not snapshots:
        return
    # COPY, because bulk_create binds JSON through UNNEST arrays that psycopg quotes in Python:
    # a third of the backfill's time at 1,000 rows a batch. A duplicate key still raises IntegrityError.
    names = ("session_id", *_SNAPSHOT_COLUMNS)
    columns = ", ".join(AnswerSnapshot._meta.get_field(name).column for name in names)
    table = connection.ops.quote_name(AnswerSnapshot._meta.db_table)
    with connection.wrap_database_errors, connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for snapshot in snapshots:
                copy.write_row(
                    [
                        json.dumps(value) if name in _JSON_COLUMNS else value
                        for name, value in ((name, getattr(snapshot, name)) for name in names)
                    ]
                )


@dataclass(frozen=True)
class _CountTable:
    """A table of counts keyed by some columns (the totals, the totals by arm): what the delta writes."""

    model: type
    key: tuple[str, ...]


_TOTALS = _CountTable(AnswerGroupTotal, ("step", "question", "answer"))
_ARM_TOTALS = _CountTable(AnswerArmTotal, ("flag", "arm", "step", "question", "answer"))


def totals_apply_delta(*, delta: Mapping[tuple[str, str, str], int]) -> None:
    """Add ``delta`` to the (step, question, answer) totals, in key order; never below zero.

    The caller owns the transaction. Increments are one ``INSERT ... ON CONFLICT DO UPDATE SET
    count = count + n`` per chunk (atomic, no lost updates); decrements, which only a changed
    snapshot or a repair produces, are single-row updates taken in the same key order; a total that reaches
    zero is deleted.
    """
    _counts_apply_delta(_TOTALS, delta)


def arm_totals_apply_delta(*, delta: Mapping[tuple[str, str, str, str, str], int]) -> None:
    """Add ``delta`` to the (flag, arm, step, question, answer) totals, as ``totals_apply_delta`` does."""
    _counts_apply_delta(_ARM_TOTALS, delta)


def _counts_apply_delta(table: _CountTable, delta: Mapping[tuple, int]) -> None:
    changes = sorted((key, n) for key, n in delta.items() if n)
    if all(n > 0 for _key, n in changes):
        for start in range(0, len(changes), _UPSERT_CHUNK):
            _counts_increment(table, changes[start : start + _UPSERT_CHUNK])
        return
    for key, n in changes:
        if n > 0:
            _counts_increment(table, [(key, n)])
        else:
            _counts_decrement(table, key, -n)


def _counts_increment(table: _CountTable, changes: list[tuple[tuple, int]]) -> None:
    if not changes:
        return
    name = connection.ops.quote_name(table.model._meta.db_table)
    columns = ", ".join(table.key)
    rows = ", ".join(["({})".format(", ".join(["%s"] * (len(table.key) + 1)))] * len(changes))
    params = [value for key, n in changes for value in (*key, n)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {name} ({columns}, count) VALUES {rows} "
            f"ON CONFLICT ({columns}) DO UPDATE SET count = {name}.count + EXCLUDED.count",
            params,
        )


def _counts_decrement(table: _CountTable, key: tuple, n: int) -> None:
    total = table.model.objects.filter(**dict(zip(table.key, key, strict=False)))
    if not total.filter(count__gte=n).update(count=F("count") - n):
        # Only a drifted table gets here (check_onboarding_totals --repair mends it): clamp at zero.
        total.update(count=0)
        logger.warning("totals drift: %s=%s would go below zero", ",".join(table.key), key)
    # Keep only answers somebody gave (readers need no count > 0 filter). A concurrent upsert of
    # this key waits for the row lock, finds the row gone and inserts it afresh.
    total.filter(count=0).delete()
