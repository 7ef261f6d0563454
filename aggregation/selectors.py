"""Reads of the analytics store."""
from .models import AnswerSnapshot

# The columns a snapshot document is built from (``.values(*SNAPSHOT_DOCUMENT_FIELDS)`` works too).
SNAPSHOT_DOCUMENT_FIELDS = (
    "session_id", "user_id", "workspace_id", "role", "answer_schema_version", "completed_at", "answers", "flattened",
)


def snapshot_document(snapshot) -> dict:
    """Return the admin API / export shape of a snapshot (a model instance or a ``.values()`` row)."""
    get = snapshot.get if isinstance(snapshot, dict) else (lambda name: getattr(snapshot, name))
    return {
        "session_id": str(get("session_id")),
        "user_id": get("user_id"),
        "workspace_id": get("workspace_id"),
        "role": get("role"),
        "answer_schema_version": get("answer_schema_version"),
        "completed_at": get("completed_at").isoformat(),
        "answers": get("answers"),
        "flattened": get("flattened"),
    }


def snapshots_newest_first():
    return AnswerSnapshot.objects.order_by("-completed_at", "-session_id")
