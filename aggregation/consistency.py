"""The totals' consistency check: recompute them from the snapshots, report and mend drift."""
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction

from .models import AnswerGroupTotal, AnswerSnapshot
from .normalise import counted_answers
from .services import totals_apply_delta


@dataclass(frozen=True)
class TotalDrift:
    step: str
    question: str
    answer: str
    stored: int
    expected: int


def totals_expected() -> Counter:
    """Return the totals recomputed from every snapshot's answers."""
    expected = Counter()
    for answers in AnswerSnapshot.objects.values_list("answers", flat=True).iterator(chunk_size=2000):
        expected.update(counted_answers(answers))
    return expected


def totals_drift() -> list[TotalDrift]:
    """Return every total whose stored count differs from the recomputation, in key order."""
    expected = totals_expected()
    stored = {
        (step, question, answer): count
        for step, question, answer, count in AnswerGroupTotal.objects.values_list("step", "question", "answer", "count")
    }
    return [
        TotalDrift(*key, stored=stored.get(key, 0), expected=expected.get(key, 0))
        for key in sorted(set(expected) | set(stored))
        if stored.get(key, 0) != expected.get(key, 0)
    ]


@transaction.atomic
def totals_repair() -> list[TotalDrift]:
    """Set every drifted total to its recomputed count; return the drift that was mended."""
    if connection.vendor == "postgresql":
        # Ingestions in flight wait here holding their (uncommitted) snapshot rows, so the
        # recomputation sees exactly the snapshots whose deltas are already in the totals.
        table = connection.ops.quote_name(AnswerGroupTotal._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    drift = totals_drift()
    totals_apply_delta(delta={(d.step, d.question, d.answer): d.expected - d.stored for d in drift})
    return drift
