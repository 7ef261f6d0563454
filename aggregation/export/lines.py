"""Rows of the export and their NDJSON lines: the admin API shape (``snapshot_document``), one per line.

The fast path never decodes the stored JSON: PostgreSQL hands ``answers`` and ``flattened`` over
as text and the line is assembled around them. Decoding and re-encoding them would double the
cost of a line; the tests check that every line still parses to ``snapshot_document(row)``.
Redaction needs the values, so it takes the slower path through ``snapshot_document``.
"""
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from onboarding.manifest import STEPS

from ..models import AnswerSnapshot
from ..selectors import SNAPSHOT_DOCUMENT_FIELDS, snapshot_document

# The columns of an export row, in the order of SNAPSHOT_DOCUMENT_FIELDS.
EXPORT_ROW_FIELDS = SNAPSHOT_DOCUMENT_FIELDS
ROW_VERSION, ROW_COMPLETED_AT = EXPORT_ROW_FIELDS.index("answer_schema_version"), EXPORT_ROW_FIELDS.index("completed_at")
# The fast line below spells these fields out; a new document field must be added there too.
assert EXPORT_ROW_FIELDS == (
    "session_id", "user_id", "workspace_id", "role", "answer_schema_version", "completed_at", "answers", "flattened",
), "snapshot_document changed: update export_line"

_encode_string = json.JSONEncoder(ensure_ascii=False).encode
_compact_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_LINE = (
    '{"session_id":"%s","user_id":%d,"workspace_id":%s,"role":%s,"answer_schema_version":%d,'
    '"completed_at":"%s","answers":%s,"flattened":%s}\n'
)


@dataclass(frozen=True)
class ExportWindow:
    """Snapshots with ``start <= ingested_at < end`` (``start`` None: from the beginning)."""

    start: datetime | None
    end: datetime

    @property
    def full(self) -> bool:
        return self.start is None


def export_rows(window: ExportWindow) -> QuerySet:
    """Return the window's snapshots as tuples of EXPORT_ROW_FIELDS, ordered by (ingested_at, session_id).

    ``answers``/``flattened`` come as JSON text (and on PostgreSQL ``session_id`` as text) so that
    no row is decoded only to be encoded again.
    """
    snapshots = AnswerSnapshot.objects.filter(ingested_at__lt=window.end)
    if window.start is not None:
        snapshots = snapshots.filter(ingested_at__gte=window.start)
    as_text = {"answers_text": Cast("answers", TextField()), "flattened_text": Cast("flattened", TextField())}
    session_id = "session_id"
    if connection.vendor == "postgresql":  # SQLite stores uuids as bare hex: let the field convert it there
        as_text["session_id_text"], session_id = Cast("session_id", TextField()), "session_id_text"
    columns = [session_id, *EXPORT_ROW_FIELDS[1:6], "answers_text", "flattened_text"]
    return snapshots.annotate(**as_text).order_by("ingested_at", "session_id").values_list(*columns)


def export_line(row: tuple) -> str:
    """Return the NDJSON line of an export row (the stored JSON spliced in as it is)."""
    session_id, user_id, workspace_id, role, version, completed_at, answers, flattened = row
    return _LINE % (
        session_id, user_id, "null" if workspace_id is None else workspace_id, _encode_string(role), version,
        completed_at.isoformat(), answers, flattened,
    )


def pii_fields() -> list[tuple[str, str]]:
    """Return the (step, field) pairs the manifest declares of kind ``pii``, in manifest order."""
    return [(step.key, name) for step in STEPS for name, kind in step.kinds.items() if kind == "pii"]


def redacted_line_builder(fields: list[tuple[str, str]]) -> Callable[[tuple], str]:
    """Return a line builder that drops ``fields`` from ``answers`` and ``flattened``."""
    dropped = set(fields)

    def redacted_line(row: tuple) -> str:
        document = snapshot_document(dict(zip(EXPORT_ROW_FIELDS, row)))
        answers = json.loads(document["answers"])
        for step, name in fields:
            answers.get(step, {}).pop(name, None)
        document["answers"] = answers
        document["flattened"] = [
            item for item in json.loads(document["flattened"]) if (item.get("step"), item.get("question")) not in dropped
        ]
        return _compact_dumps(document) + "\n"

    return redacted_line
