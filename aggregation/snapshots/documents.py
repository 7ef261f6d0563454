"""The snapshot document: the one definition of an answers result and of an export line.

The staff API's results (``snapshot_document``), their OpenAPI description (derived from
``SNAPSHOT_DOCUMENT`` in ``adminapi.serializers``) and the NDJSON export lines (``snapshot_line``)
are all built from the fields below, so a field is added here or nowhere. The export's fast
encoder (``aggregation.export.lines.export_line``) spells the fields out for speed: it refuses to
import until it lists a new one, and a test proves its lines byte-equal to ``snapshot_line``.
"""

import json
from dataclasses import dataclass

# What a field holds; each kind has one JSON form here and one schema field in adminapi.serializers.
FIELD_KINDS = frozenset({"uuid", "integer", "string", "datetime", "answers", "flattened", "flags"})


@dataclass(frozen=True)
class DocumentField:
    name: str
    kind: str
    nullable: bool = False
    help_text: str = ""

    def to_json(self, value):
        """Return the field's value as the document holds it (a UUID as text, a datetime in ISO 8601)."""
        if value is None:
            return None
        if self.kind == "uuid":
            return str(value)
        if self.kind == "datetime":
            return value.isoformat()
        return value


SNAPSHOT_DOCUMENT: tuple[DocumentField, ...] = (
    DocumentField("session_id", "uuid"),
    DocumentField("user_id", "integer"),
    DocumentField("workspace_id", "integer", nullable=True),
    DocumentField("role", "string"),
    DocumentField("answer_schema_version", "integer"),
    DocumentField("completed_at", "datetime"),
    DocumentField("answers", "answers", help_text="Answers by step key, then field."),
    DocumentField("flattened", "flattened"),
    DocumentField(
        "flags",
        "flags",
        help_text=("The session's feature flags, decided when it started: name → on ({} before flags existed)."),
    ),
)
# The snapshot columns a document is built from (``.values(*SNAPSHOT_DOCUMENT_FIELDS)`` rows work too).
SNAPSHOT_DOCUMENT_FIELDS: tuple[str, ...] = tuple(field.name for field in SNAPSHOT_DOCUMENT)
assert {field.kind for field in SNAPSHOT_DOCUMENT} <= FIELD_KINDS

# Nested values are encoded the way PostgreSQL prints jsonb (", " and ": " separators, non-ASCII
# as it is), which lets the export splice the stored text into a line unchanged.
encode_value = json.JSONEncoder(ensure_ascii=False).encode


def snapshot_document(snapshot) -> dict:
    """Return the admin API / export shape of a snapshot (a model instance or a ``.values()`` row)."""
    get = snapshot.get if isinstance(snapshot, dict) else (lambda name: getattr(snapshot, name))
    return {field.name: field.to_json(get(field.name)) for field in SNAPSHOT_DOCUMENT}


def snapshot_line(document: dict) -> str:
    """Return a snapshot document as its NDJSON line: compact at the top, nested values as jsonb prints them."""
    return "{{{}}}\n".format(
        ",".join(f"{encode_value(field.name)}:{encode_value(document[field.name])}" for field in SNAPSHOT_DOCUMENT)
    )
