"""The committed horizon: a time before which no row stamped by an open transaction can still appear.

Rows that other processes stamp with the application's clock inside their transaction
(``ingested_at`` of a snapshot, ``created_at`` of a telemetry event, ``started_at`` of a session)
become visible only when that transaction commits, possibly long after the stamp. A reader that
moves a watermark over such a column (the export, the funnel fold) must never move it past a
stamp that may still commit: it stops at the start of the oldest transaction still open on the
database, less a margin for the skew between the application's clock and the database's.
"""

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

# Stamps come from the application's clock, xact_start from the database's: allow for skew.
CLOCK_SKEW_MARGIN = timedelta(seconds=1)


def committed_horizon(*, margin: timedelta = CLOCK_SKEW_MARGIN) -> datetime:
    """Return a time such that every row stamped before it has committed already (or never will).

    It is now, or the start of the oldest other open transaction less ``margin`` if that is
    earlier (PostgreSQL; elsewhere open transactions cannot be seen and it is now).
    """
    now = timezone.now()
    oldest = oldest_open_transaction()
    return now if oldest is None else min(now, oldest - margin)


def oldest_open_transaction() -> datetime | None:
    """Return when the oldest other open transaction on this database began (PostgreSQL only).

    A writer stamps its rows inside its transaction, before it commits; a watermark capped at the
    oldest open transaction's start never passes a row that is still uncommitted.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start IS NOT NULL"
        )
        return cursor.fetchone()[0]
