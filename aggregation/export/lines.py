"""Rows of the export and their NDJSON lines: ``aggregation.snapshots.documents.snapshot_line``, one snapshot per line.

On PostgreSQL the fast path never decodes the stored JSON: ``answers``, ``flattened`` and ``flags`` come over
as jsonb text, which ``snapshot_line`` encodes nested values exactly like, and ``export_line``
assembles the line around them. Decoding and re-encoding them would double the cost of a line;
``tests/test_export_lines.py`` proves every fast line byte-equal to ``snapshot_line``. Redaction
needs the values, and other databases print JSON differently, so they take the document path.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from onboarding.manifest import STEPS

from ..models import AnswerSnapshot
from ..snapshots.documents import SNAPSHOT_DOCUMENT_FIELDS, encode_value, snapshot_document, snapshot_line

# An export row holds the columns of SNAPSHOT_DOCUMENT_FIELDS, in that order.
ROW_VERSION = SNAPSHOT_DOCUMENT_FIELDS.index("answer_schema_version")
ROW_COMPLETED_AT = SNAPSHOT_DOCUMENT_FIELDS.index("completed_at")
# export_line spells these fields out for speed: a field added to the document must be added there.
assert SNAPSHOT_DOCUMENT_FIELDS == (
    "session_id",
    "user_id",
    "workspace_id",
    "role",
    "answer_schema_version",
    "completed_at",
    "answers",
    "flattened",
    "flags",
), "the snapshot document changed: update export_line and _LINE"

_LINE = (
    '{"session_id":"%s","user_id":%d,"workspace_id":%s,"role":%s,"answer_schema_version":%d,'
    '"completed_at":"%s","answers":%s,"flattened":%s,"flags":%s}\n'
)
_SPLICED = ("session_id", "answers", "flattened", "flags")  # columns the fast path reads as text


@dataclass(frozen=True)
class ExportWindow:
    """Snapshots with ``start <= ingested_at < end`` (``start`` None: from the beginning)."""

    start: datetime | None
    end: datetime

    @property
    def full(self) -> bool:
        return self.start is None


def export_rows(window: ExportWindow, *, as_text: bool = False) -> QuerySet:
    """Return the window's snapshots as tuples of SNAPSHOT_DOCUMENT_FIELDS, ordered by (ingested_at, session_id).

    ``as_text`` (PostgreSQL only): ``session_id`` and the JSON columns come as text, for
    ``export_line`` to splice in, so that no row is decoded only to be encoded again.
    """
    snapshots = AnswerSnapshot.objects.filter(ingested_at__lt=window.end)
    if window.start is not None:
        snapshots = snapshots.filter(ingested_at__gte=window.start)
    snapshots = snapshots.order_by("ingested_at", "session_id")
    if not as_text:
        return snapshots.values_list(*SNAPSHOT_DOCUMENT_FIELDS)
    texts = {f"{name}_text": Cast(name, TextField()) for name in _SPLICED}
    columns = [f"{name}_text" if name in _SPLICED else name for name in SNAPSHOT_DOCUMENT_FIELDS]
    return snapshots.annotate(**texts).values_list(*columns)


def export_line(row: tuple) -> str:
    """Return the NDJSON line of an ``as_text`` export row (the stored JSON spliced in as it is)."""
    session_id, user_id, workspace_id, role, version, completed_at, answers, flattened, flags = row
    return _LINE % (
        session_id,
        user_id,
        "null" if workspace_id is None else workspace_id,
        encode_value(role),
        version,
        completed_at.isoformat(),
        answers,
        flattened,
        flags,
    )


def document_line_builder(redacted: list[tuple[str, str]]) -> Callable[[tuple], str]:
    """Return a line builder for plain export rows that drops the ``redacted`` (step, field) pairs."""
    dropped = set(redacted)

    def document_line(row: tuple) -> str:
        document = snapshot_document(dict(zip(SNAPSHOT_DOCUMENT_FIELDS, row, strict=False)))
        if dropped:
            document["answers"] = {
                step: {name: value for name, value in fields.items() if (step, name) not in dropped}
                for step, fields in document["answers"].items()
            }
            document["flattened"] = [
                item for item in document["flattened"] if (item.get("step"), item.get("question")) not in dropped
            ]
        return snapshot_line(document)

    return document_line


def export_rows_and_line(
    window: ExportWindow, *, redacted: list[tuple[str, str]]
) -> tuple[QuerySet, Callable[[tuple], str]]:
    """Return the window's rows and the function that turns a row into its line.

    The fast path (stored JSON spliced in) on PostgreSQL without redaction; the document path otherwise.
    """
    if connection.vendor == "postgresql" and not redacted:
        return export_rows(window, as_text=True), export_line
    return export_rows(window), document_line_builder(redacted)


def pii_fields() -> list[tuple[str, str]]:
    """Return the (step, field) pairs the manifest declares of kind ``pii``, in manifest order."""
    return [(step.key, name) for step in STEPS for name, kind in step.kinds.items() if kind == "pii"]
