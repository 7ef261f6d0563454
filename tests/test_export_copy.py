"""The export's COPY path: PostgreSQL assembles each line byte-equal to the snapshot document's one encoding."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from aggregation.export.copy_out import copy_rows
from aggregation.export.files import export_write_batch
from aggregation.export.lines import ExportWindow
from aggregation.models import AnswerSnapshot
from aggregation.snapshots.documents import snapshot_document, snapshot_line

from .test_export_lines import snapshots  # noqa: F401

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]


def copied(window: ExportWindow) -> list[bytes]:
    with transaction.atomic(), connection.cursor() as cursor:
        return list(copy_rows(cursor, window))


def test_every_copied_line_is_byte_equal_to_the_documents_encoding(snapshots, tmp_path):  # noqa: F811
    window = ExportWindow(start=None, end=timezone.now() + timedelta(seconds=1))
    stored = AnswerSnapshot.objects.order_by("ingested_at", "session_id")
    expected = "".join(snapshot_line(snapshot_document(s)) for s in stored).encode()

    stats = export_write_batch(path=tmp_path / "part", rows=iter(copied(window)), line=None, compress=False)

    assert (tmp_path / "part").read_bytes() == expected
    assert stats.rows == len(snapshots) and stats.updated == 0


def test_copied_rows_count_versions_and_updated_snapshots(snapshots, tmp_path):  # noqa: F811
    start = datetime(2026, 6, 1, tzinfo=UTC)  # one fixture snapshot completed before it: an update
    window = ExportWindow(start=start, end=timezone.now() + timedelta(seconds=1))
    AnswerSnapshot.objects.update(ingested_at=timezone.now())

    stats = export_write_batch(path=tmp_path / "part", rows=iter(copied(window)), line=None, compress=True)

    assert stats.rows == len(snapshots) and stats.updated == 1
    assert dict(stats.schema_versions) == {1: len(snapshots)}


def test_the_window_bounds_the_copied_rows(snapshots):  # noqa: F811
    now = timezone.now()
    AnswerSnapshot.objects.update(ingested_at=now - timedelta(hours=2))
    assert copied(ExportWindow(start=now - timedelta(hours=1), end=now)) == []
    assert len(copied(ExportWindow(start=now - timedelta(hours=3), end=now))) == len(snapshots)


def test_a_failed_write_on_the_writer_thread_fails_the_batch(snapshots, tmp_path, monkeypatch):  # noqa: F811
    from aggregation.export import files

    def disk_full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files._HashingSink, "write", disk_full)
    window = ExportWindow(start=None, end=timezone.now() + timedelta(seconds=1))
    with pytest.raises(OSError, match="No space left"):
        export_write_batch(path=tmp_path / "part", rows=iter(copied(window)), line=None, compress=False)
