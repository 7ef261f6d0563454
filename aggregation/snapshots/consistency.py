"""The totals' consistency check: recompute them from the snapshots, report and mend drift.

Both rollups are checked: the totals and the totals by experiment arm.
"""

from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction

from ..models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot
from .normalise import arm_counted_answers, counted_answers
from .services import arm_totals_apply_delta, totals_apply_delta


@dataclass(frozen=True)
class TotalDrift:
    step: str
    question: str
    answer: str
    stored: int
    expected: int
    flag: str = ""  # set for a total by experiment arm
    arm: str = ""

    def __str__(self):
        arm = f"[{self.flag}={self.arm}] " if self.flag else ""
        return f"{arm}{self.step}.{self.question}={self.answer}: stored {self.stored}, expected {self.expected}"


def _recomputed() -> tuple[Counter, Counter]:
    """Return the totals and the totals by arm recomputed from every snapshot (one pass)."""
    expected, arm_expected = Counter(), Counter()
    for answers, flags in AnswerSnapshot.objects.values_list("answers", "flags").iterator(chunk_size=2000):
        expected.update(counted_answers(answers))
        arm_expected.update(arm_counted_answers(answers, flags))
    return expected, arm_expected


def totals_expected() -> Counter:
    """Return the totals recomputed from every snapshot's answers."""
    return _recomputed()[0]


def arm_totals_expected() -> Counter:
    """Return the totals by (flag, arm) recomputed from every snapshot's answers and flags."""
    return _recomputed()[1]


def totals_drift() -> list[TotalDrift]:
    """Return every total (then every total by arm) whose stored count differs from the recomputation."""
    expected, arm_expected = _recomputed()
    stored = {row[:-1]: row[-1] for row in AnswerGroupTotal.objects.values_list("step", "question", "answer", "count")}
    arm_stored = {
        row[:-1]: row[-1]
        for row in AnswerArmTotal.objects.values_list("flag", "arm", "step", "question", "answer", "count")
    }
    drift = [TotalDrift(*key, stored=s, expected=e) for key, s, e in _differences(stored, expected)]
    drift += [
        TotalDrift(step, question, answer, stored=s, expected=e, flag=flag, arm=arm)
        for (flag, arm, step, question, answer), s, e in _differences(arm_stored, arm_expected)
    ]
    return drift


def _differences(stored: dict, expected: Counter) -> list[tuple]:
    return [
        (key, stored.get(key, 0), expected.get(key, 0))
        for key in sorted(set(expected) | set(stored))
        if stored.get(key, 0) != expected.get(key, 0)
    ]


@transaction.atomic
def totals_repair() -> list[TotalDrift]:
    """Set every drifted total to its recomputed count; return the drift that was mended."""
    if connection.vendor == "postgresql":
        # Ingestions in flight wait here holding their (uncommitted) snapshot rows, so the
        # recomputation sees exactly the snapshots whose deltas are already in the totals.
        # Both tables, in the ingestion's lock order.
        with connection.cursor() as cursor:
            for model in (AnswerGroupTotal, AnswerArmTotal):
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} IN EXCLUSIVE MODE")
    drift = totals_drift()
    totals_apply_delta(delta={(d.step, d.question, d.answer): d.expected - d.stored for d in drift if not d.flag})
    arm_totals_apply_delta(
        delta={(d.flag, d.arm, d.step, d.question, d.answer): d.expected - d.stored for d in drift if d.flag}
    )
    return drift
