"""Keyset ("cursor") pagination over (completed_at, session_id), newest first.

A cursor is opaque to clients: URL-safe base64 of the key of the row it continues from and the
direction. A page is one index range scan, ``WHERE (completed_at, session_id) < (%s, %s) ORDER BY
completed_at DESC, session_id DESC LIMIT n + 1`` — no OFFSET, so page 10,000 costs what page 1
costs. ``session_id`` breaks ties between snapshots completed in the same microsecond.
"""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC

from django.db import connections
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class InvalidCursor(ValueError):
    """The cursor was not produced by this paginator."""


@dataclass(frozen=True)
class Cursor:
    completed_at: object  # an aware datetime
    session_id: uuid.UUID
    reverse: bool = False  # True: the page *before* this key (a "previous" link)

    def encode(self) -> str:
        raw = json.dumps(
            [self.completed_at.isoformat(), str(self.session_id), int(self.reverse)], separators=(",", ":")
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """Return the cursor ``text`` encodes; anything this paginator did not produce is InvalidCursor.

        The JSON is a client's to forge: each part must have the type ``encode`` gives it (a list
        or an object where a string belongs reached a 500), and the moment must stay within the
        calendar once in UTC, where the database compares it.
        """
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            completed_at, session_id, reverse = json.loads(raw)
            if not (isinstance(completed_at, str) and isinstance(session_id, str) and type(reverse) is int):
                raise TypeError("a cursor is [date-time string, uuid string, 0 or 1]")
            moment = parse_datetime(completed_at)
            if moment is None or moment.tzinfo is None or reverse not in (0, 1):
                raise ValueError(text)
            moment.astimezone(UTC)  # OverflowError past year 9999 (or before year 1) in UTC
            return cls(completed_at=moment, session_id=uuid.UUID(session_id), reverse=bool(reverse))
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError) as exc:
            raise InvalidCursor(str(exc)) from exc


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next: Cursor | None
    previous: Cursor | None


def _row_compare(queryset, operator: str, cursor: Cursor):
    """Filter ``queryset`` by the row value (completed_at, session_id) against the cursor's key."""
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    opts = queryset.model._meta
    table = quote(opts.db_table)
    completed_at, session_id = opts.get_field("completed_at"), opts.get_field("session_id")
    sql = f"({table}.{quote(completed_at.column)}, {table}.{quote(session_id.column)}) {operator} (%s, %s)"
    # Raw SQL skips the fields' adaptation: do it here (SQLite stores UUIDs as hex, datetimes as text).
    params = (
        completed_at.get_db_prep_value(cursor.completed_at, connection),
        session_id.get_db_prep_value(cursor.session_id, connection),
    )
    return queryset.filter(RawSQL(sql, params, output_field=BooleanField()))


def keyset_queryset(queryset, *, cursor: Cursor | None, page_size: int, fields: tuple[str, ...]):
    """Return the one query a page runs: ``page_size + 1`` rows past the cursor, in scan order."""
    values = tuple(dict.fromkeys((*fields, "completed_at", "session_id")))
    if cursor is not None and cursor.reverse:
        queryset = _row_compare(queryset, ">", cursor).order_by("completed_at", "session_id")
    elif cursor is not None:
        queryset = _row_compare(queryset, "<", cursor).order_by("-completed_at", "-session_id")
    else:
        queryset = queryset.order_by("-completed_at", "-session_id")
    return queryset.values(*values)[: page_size + 1]


def keyset_page(queryset, *, cursor: Cursor | None, page_size: int, fields: tuple[str, ...]) -> KeysetPage:
    """Return one page of ``queryset`` (snapshots, any filters applied) as ``.values(*fields)`` rows."""
    fetched = list(keyset_queryset(queryset, cursor=cursor, page_size=page_size, fields=fields))
    more = len(fetched) > page_size
    if cursor is not None and cursor.reverse:
        rows = fetched[:page_size][::-1]
        return KeysetPage(
            rows=rows,
            next=_cursor_at(rows[-1]) if rows else None,
            previous=_cursor_at(rows[0], reverse=True) if rows and more else None,
        )
    rows = fetched[:page_size]
    return KeysetPage(
        rows=rows,
        next=_cursor_at(rows[-1]) if more else None,
        previous=_cursor_at(rows[0], reverse=True) if rows and cursor is not None else None,
    )


def _cursor_at(row: dict, *, reverse: bool = False) -> Cursor:
    return Cursor(completed_at=row["completed_at"], session_id=row["session_id"], reverse=reverse)
