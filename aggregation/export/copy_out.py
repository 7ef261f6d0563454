"""The export's fast path on PostgreSQL: ``COPY ... TO STDOUT`` streams each line already assembled by the server.

PostgreSQL builds every line as ``aggregation.snapshots.documents.snapshot_line`` would (the stored jsonb text
spliced in, the role through ``to_json``, ``completed_at`` as Python's ``isoformat`` prints it), and
streams them without a round trip per batch; Python only splits them into part files, counts, hashes
and writes bytes, never decoding a row (``files.export_write_batch`` with ``line=None``). ``tests/test_export_copy.py`` proves every line byte-equal to
``snapshot_line``. Each COPY row is ``<answer_schema_version> TAB <t|f: completed before the window> TAB <line>``
in COPY's text format, which doubles every backslash of a value (the only escape it can meet: JSON
text holds no raw control character or tab), undone per chunk.
"""

from collections.abc import Iterator

from django.db import connection
from psycopg import ClientCursor

from ..models import AnswerSnapshot
from .lines import ExportWindow

# Python's isoformat of an aware UTC datetime: microseconds only when there are some, "+00:00".
# (The statement takes parameters: a literal percent sign is doubled.)
_ISO_UTC = (
    "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    " || CASE WHEN date_part('microseconds', {c})::bigint %% 1000000 = 0 THEN ''"
    " ELSE to_char({c} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)
_LINE_SQL = (
    '\'{"session_id":"\' || session_id::text'
    ' || \'","user_id":\' || user_id::text'
    " || ',\"workspace_id\":' || coalesce(workspace_id::text, 'null')"
    " || ',\"role\":' || to_json(role)::text"
    " || ',\"answer_schema_version\":' || answer_schema_version::text"
    ' || \',"completed_at":"\' || ' + _ISO_UTC.format(c="completed_at") + ""
    ' || \'","answers":\' || answers::text'
    " || ',\"flattened\":' || flattened::text"
    " || ',\"flags\":' || flags::text || '}'"
)


def copy_statement(window: ExportWindow) -> tuple[str, list]:
    """Return the COPY statement of the window's rows, ordered by (ingested_at, session_id), and its parameters."""
    table = connection.ops.quote_name(AnswerSnapshot._meta.db_table)
    conditions, params = ["ingested_at < %s"], [window.end]
    if window.start is not None:
        conditions.append("ingested_at >= %s")
        params.append(window.start)
    updated = "completed_at < %s" if window.start is not None else "false"
    params = ([window.start] if window.start is not None else []) + params
    sql = (
        f"COPY (SELECT answer_schema_version, {updated}, {_LINE_SQL} FROM {table}"
        f" WHERE {' AND '.join(conditions)} ORDER BY ingested_at, session_id) TO STDOUT"
    )
    return sql, params


def copy_rows(cursor, window: ExportWindow) -> Iterator[bytes]:
    """Yield the window's COPY rows (bytes, one per snapshot); the caller holds the transaction."""
    sql, params = copy_statement(window)
    # COPY takes no bound parameters: the values are quoted in as literals by psycopg itself.
    statement = ClientCursor(connection.connection).mogrify(sql, params)
    with cursor.copy(statement) as copy:
        for row in copy:
            yield bytes(row)
