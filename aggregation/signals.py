"""Signals aggregation sends inside its own transactions, so apps above it act in the same transaction.

Receivers run synchronously, before the commit: whatever they write commits or rolls back with the cause.
"""

from django.dispatch import Signal

# Sent inside the transaction that stores a completed session's snapshot. Keyword: snapshot (AnswerSnapshot).
snapshot_stored = Signal()

# Sent inside the transaction that erases a person's onboarding data.
# Keywords: user_id (int), session_ids (list[str], the erased sessions' ids).
onboarding_erased = Signal()

# Sent by the retention run (``aggregation.retention``), outside any transaction, after its own purges:
# apps above aggregation delete their expired rows (the webhooks' delivery attempts) in batches.
# Keywords: now (datetime, the run's clock), batch (int, rows per transaction).
retention_due = Signal()
