"""The one parser of the commands' ISO 8601 options (``--since``, ``--until``)."""

from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive, make_aware


def aware_datetime(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time (naive means UTC) into an aware UTC datetime, or raise ValueError.

    A value that is valid ISO 8601 but falls outside years 1–9999 once in UTC
    (``9999-12-31T23:59:59-05:00``) is refused here, not by an OverflowError deep in a query.
    """
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)):
            parsed = datetime.combine(day, time.min)
        if parsed is None:
            raise ValueError(value)
        return (make_aware(parsed) if is_naive(parsed) else parsed).astimezone(UTC)
    except (ValueError, OverflowError):  # ValueError: well formed but impossible, e.g. 2026-02-30
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or date-time within years 1-9999 in UTC (e.g. 2026-11-24T02:00:00Z)"
        ) from None
