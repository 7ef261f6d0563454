"""The export service: every snapshot exactly once, never a half-written file, incremental by default."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from aggregation.export import (
    MANIFEST_NAME,
    ExportAlreadyRunning,
    InvalidExportWindow,
    answers_export,
    export_watermark,
    service,
)
from aggregation.export.runs import EXPORT_LOCK_KEY
from aggregation.models import AnswerSnapshot, ExportRun
from aggregation.snapshots.documents import snapshot_document

from .export_support import export_root, read_lines, read_manifest, run_dirs, session_ids  # noqa: F401
from .factories import AnswerSnapshotFactory

pytestmark = pytest.mark.django_db
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def scheduled_watermark(export_root: Path):
    """The watermark of the scheduled drop: unredacted runs into the export storage."""
    return export_watermark(destination=str(export_root.resolve()), redacted=False)


def nightly_drop() -> set[str]:
    """Run the beat task as beat would; return the session ids of the run it wrote."""
    from aggregation.tasks.export import export_onboarding_answers_nightly

    location = export_onboarding_answers_nightly()["location"]
    return set(session_ids(read_lines(Path(location))))


def test_an_ad_hoc_full_run_elsewhere_leaves_the_next_nightly_drop_complete(export_root, tmp_path):
    first = AnswerSnapshotFactory(ingested_at=timezone.now() - timedelta(hours=2))
    assert nightly_drop() == {str(first.session_id)}
    second = AnswerSnapshotFactory(ingested_at=timezone.now())  # after the first drop

    call_command("export_onboarding_answers", "--full", "--output", str(tmp_path / "elsewhere"), stdout=StringIO())

    assert nightly_drop() == {str(second.session_id)}


def test_a_redacted_run_leaves_the_next_nightly_drop_complete(export_root):
    first = AnswerSnapshotFactory(ingested_at=timezone.now() - timedelta(hours=2))
    assert nightly_drop() == {str(first.session_id)}
    second = AnswerSnapshotFactory(ingested_at=timezone.now())  # after the first drop

    redacted = answers_export(redact_pii=True)  # same storage, its own watermark: everything, redacted

    assert redacted.rows == 2
    assert nightly_drop() == {str(second.session_id)}
    assert answers_export(redact_pii=True).rows == 0  # and the redacted series continues on its own


def test_runs_to_another_directory_keep_a_watermark_of_their_own(export_root, tmp_path):
    AnswerSnapshotFactory.create_batch(2)
    elsewhere = str(tmp_path / "elsewhere")
    answers_export()

    assert answers_export(output_dir=elsewhere).rows == 2  # nothing was ever delivered there
    assert answers_export(output_dir=elsewhere).rows == 0
    assert answers_export().rows == 0


def test_every_snapshot_appears_exactly_once_across_batches(export_root):
    snapshots = AnswerSnapshotFactory.create_batch(50)

    result = answers_export(batch_size=7)

    [run_dir] = run_dirs(export_root)
    documents = read_lines(run_dir)
    assert result.rows == 50 and len(result.files) == 8
    assert sorted(session_ids(documents)) == sorted(str(s.session_id) for s in snapshots)
    assert [entry["rows"] for entry in read_manifest(run_dir)["files"]] == [7] * 7 + [1]
    assert ExportRun.objects.get().status == ExportRun.Status.SUCCEEDED


def test_each_line_is_the_admin_api_document_in_ingestion_order(export_root):
    AnswerSnapshotFactory.create_batch(5)

    answers_export()

    ordered = AnswerSnapshot.objects.order_by("ingested_at", "session_id")
    assert read_lines(run_dirs(export_root)[0]) == [snapshot_document(snapshot) for snapshot in ordered]


def test_a_run_that_dies_midway_leaves_no_file_under_a_final_name_and_the_watermark_unchanged(export_root, monkeypatch):
    AnswerSnapshotFactory.create_batch(50)
    real_write, written = service.export_write_batch, []

    def write_two_then_die(**kwargs):
        if len(written) == 2:
            raise OSError("disk full")
        written.append(real_write(**kwargs))
        return written[-1]

    monkeypatch.setattr(service, "export_write_batch", write_two_then_die)
    with pytest.raises(OSError):
        answers_export(batch_size=7)

    assert list(export_root.iterdir()) == []
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED
    assert scheduled_watermark(export_root) is None

    monkeypatch.undo()
    result = answers_export(batch_size=7)
    assert result.rows == 50
    assert len(set(session_ids(read_lines(run_dirs(export_root)[0])))) == 50


def test_the_next_run_cleans_up_after_a_process_that_was_killed(export_root):
    AnswerSnapshotFactory.create_batch(3)
    ExportRun.objects.create(status=ExportRun.Status.RUNNING, window_end=timezone.now())
    staging = export_root / ".partial-20260101T000000Z-run000001"
    staging.mkdir(parents=True)
    (staging / ".part-00001.ndjson.tmp").write_text("{half a line")

    result = answers_export()

    assert not staging.exists()
    assert [path.name for path in export_root.iterdir()] == [run_dirs(export_root)[0].name]
    assert result.rows == 3
    abandoned = ExportRun.objects.order_by("pk").first()
    assert abandoned.status == ExportRun.Status.FAILED and "abandoned" in abandoned.error


def test_incremental_runs_do_not_repeat_rows(export_root):
    first = AnswerSnapshotFactory.create_batch(10)
    answers_export(batch_size=4)
    second = AnswerSnapshotFactory.create_batch(5)

    answers_export(batch_size=4)
    answers_export(batch_size=4)

    runs = run_dirs(export_root)
    assert len(runs) == 3
    assert sorted(session_ids(read_lines(runs[0]))) == sorted(str(s.session_id) for s in first)
    assert sorted(session_ids(read_lines(runs[1]))) == sorted(str(s.session_id) for s in second)
    assert read_manifest(runs[2])["rows"] == 0 and read_manifest(runs[2])["files"] == []
    assert read_manifest(runs[1])["window"]["start"] == read_manifest(runs[0])["window"]["end"]


def test_an_updated_snapshot_is_exported_again_and_flagged(export_root):
    snapshot, _ = AnswerSnapshotFactory.create_batch(2)
    answers_export()
    AnswerSnapshot.objects.filter(pk=snapshot.pk).update(role="design", ingested_at=timezone.now())

    result = answers_export()

    manifest = read_manifest(run_dirs(export_root)[1])
    assert [(d["session_id"], d["role"]) for d in read_lines(run_dirs(export_root)[1])] == [
        (str(snapshot.session_id), "design")
    ]
    assert result.updated == 1 and manifest["updated"] == 1 and manifest["files"][0]["updated"] == 1


def test_a_new_snapshot_is_not_flagged_as_updated(export_root):
    answers_export()
    AnswerSnapshotFactory()

    assert answers_export().updated == 0


def test_gzip_files_read_back_with_gzip_open(export_root):
    AnswerSnapshotFactory.create_batch(9)

    answers_export(batch_size=4, compress=True)

    run_dir = run_dirs(export_root)[0]
    assert [entry["name"] for entry in read_manifest(run_dir)["files"]] == [
        "part-00001.ndjson.gz",
        "part-00002.ndjson.gz",
        "part-00003.ndjson.gz",
    ]
    assert read_manifest(run_dir)["compression"] == "gzip"
    assert len(read_lines(run_dir)) == 9


def test_redaction_drops_pii_fields_and_lists_them_in_the_manifest(export_root):
    AnswerSnapshotFactory.create_batch(3)

    answers_export(redact_pii=True)

    run_dir = run_dirs(export_root)[0]
    raw = (run_dir / "part-00001.ndjson").read_text()
    assert "Ada Lovelace" not in raw and "charles@example.com" not in raw
    assert "full_name" not in raw and '"emails"' not in raw
    document = read_lines(run_dir)[0]
    assert document["answers"]["profile"] == {"job_title": "Analyst", "role": "engineering"}
    assert {"step": "invites", "question": "invite_role", "value": "member"} in document["flattened"]
    assert read_manifest(run_dir)["redacted_fields"] == [
        {"step": "profile", "field": "full_name"},
        {"step": "invites", "field": "emails"},
    ]


def test_the_manifest_describes_the_files_exactly(export_root):
    AnswerSnapshotFactory.create_batch(10)
    AnswerSnapshotFactory(answer_schema_version=2)

    result = answers_export(batch_size=4)

    run_dir = run_dirs(export_root)[0]
    manifest = read_manifest(run_dir)
    for entry in manifest["files"]:
        content = (run_dir / entry["name"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert content.count(b"\n") == entry["rows"] and len(content) == entry["bytes"]
    assert sorted(path.name for path in run_dir.iterdir()) == sorted(
        [MANIFEST_NAME] + [entry["name"] for entry in manifest["files"]]
    )
    assert manifest["rows"] == 11 and manifest["schema_versions"] == {"1": 10, "2": 1}
    assert manifest["window"]["start"] is None and manifest["window"]["full"] is True
    assert manifest["window"]["end"] == ExportRun.objects.get().window_end.isoformat()
    assert manifest["run_id"] == result.run_id and manifest["redacted_fields"] == []


def test_snapshots_ingested_after_the_run_started_wait_for_the_next_run(export_root):
    AnswerSnapshotFactory(ingested_at=timezone.now() + timedelta(seconds=5))  # "during" the run

    assert answers_export().rows == 0
    assert ExportRun.objects.get().window_end < AnswerSnapshot.objects.get().ingested_at


def test_an_explicit_window_is_exported_without_moving_the_watermark(export_root):
    old = AnswerSnapshotFactory(ingested_at=timezone.now() - timedelta(days=3))
    AnswerSnapshotFactory(ingested_at=timezone.now() - timedelta(days=1))
    answers_export()
    watermark = scheduled_watermark(export_root)

    result = answers_export(since=old.ingested_at, until=old.ingested_at + timedelta(hours=1))

    assert result.rows == 1 and scheduled_watermark(export_root) == watermark


def test_full_with_since_is_refused(export_root):
    with pytest.raises(InvalidExportWindow):
        answers_export(full=True, since=timezone.now())


def test_a_dry_run_counts_and_writes_nothing(export_root):
    AnswerSnapshotFactory.create_batch(8)

    result = answers_export(dry_run=True, batch_size=3)

    assert (result.rows, result.file_count) == (8, 3)
    assert not export_root.exists() and not ExportRun.objects.exists()


def test_output_dir_bypasses_the_storage(export_root, tmp_path):
    AnswerSnapshotFactory.create_batch(2)

    result = answers_export(output_dir=str(tmp_path / "elsewhere"))

    assert len(read_lines(run_dirs(tmp_path / "elsewhere")[0])) == 2
    assert result.location.startswith(str(tmp_path / "elsewhere"))
    assert not export_root.exists()


def test_a_remote_storage_gets_complete_files_and_the_manifest_last(settings, monkeypatch):
    settings.STORAGES = {
        **settings.STORAGES,
        "onboarding_exports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    AnswerSnapshotFactory.create_batch(5)
    storage, saved = storages["onboarding_exports"], []
    real_save = storage.save
    monkeypatch.setattr(storage, "save", lambda name, content: saved.append(name) or real_save(name, content))

    result = answers_export(batch_size=2)

    run_dir = result.location.split(":", 1)[1]
    assert [name.rsplit("/", 1)[1] for name in saved] == [
        "part-00001.ndjson",
        "part-00002.ndjson",
        "part-00003.ndjson",
        MANIFEST_NAME,
    ]
    manifest = json.loads(storage.open(f"{run_dir}/{MANIFEST_NAME}").read())
    assert sum(entry["rows"] for entry in manifest["files"]) == 5


def test_a_remote_storage_keeps_nothing_of_a_failed_run(settings, monkeypatch):
    settings.STORAGES = {
        **settings.STORAGES,
        "onboarding_exports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    AnswerSnapshotFactory.create_batch(5)
    real_write, calls = service.export_write_batch, []

    def write_two_then_die(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("connection reset")
        return real_write(**kwargs)

    monkeypatch.setattr(service, "export_write_batch", write_two_then_die)
    with pytest.raises(OSError):
        answers_export(batch_size=2)

    storage = storages["onboarding_exports"]
    run_dirs_left, files_left = storage.listdir("")
    assert files_left == [] and all(storage.listdir(name) == ([], []) for name in run_dirs_left)  # S3 has no dirs


def test_the_next_run_deletes_the_parts_a_killed_run_left_in_a_remote_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "onboarding_exports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    storage = storages["onboarding_exports"]
    storage.save("20260101T000000Z-run000001/part-00001.ndjson", ContentFile(b"{}\n"))
    ExportRun.objects.create(
        status=ExportRun.Status.RUNNING,
        window_end=timezone.now(),
        location="onboarding_exports:20260101T000000Z-run000001",
    )

    answers_export()

    assert storage.listdir("20260101T000000Z-run000001") == ([], [])


def test_the_lock_refuses_a_second_export(export_root):
    AnswerSnapshotFactory()
    with _lock_held_elsewhere() as holder:
        holder_pid = holder.info.backend_pid
        with pytest.raises(ExportAlreadyRunning, match="another export is running"):
            answers_export()
    assert not ExportRun.objects.exists() and not export_root.exists()

    _wait_until_gone(holder_pid)  # the server ends a closed connection's backend (and its lock) a moment later
    assert answers_export().rows == 1  # released: the next run goes ahead


def _lock_held_elsewhere():
    """Take the export's advisory lock from a second connection (another process, in effect)."""
    params = connection.get_connection_params()
    holder = psycopg.connect(
        **{key: params[key] for key in ("dbname", "host", "port", "user") if params.get(key)},
        password=params.get("password"),
        autocommit=True,
    )
    holder.execute("SELECT pg_advisory_lock(%s)", [EXPORT_LOCK_KEY])
    return holder  # closing the connection (the with block's exit) releases the lock


def _wait_until_gone(pid: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                return
            time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_command_killed_midway_publishes_nothing_and_the_next_run_delivers_everything(export_root):
    """SIGKILL a real `manage.py export_onboarding_answers` process once it has written some parts."""
    snapshots = AnswerSnapshotFactory.create_batch(300)
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "ONBOARDING_ANSWERS_EXPORT_PATH": str(export_root),
    }
    env.pop("REDIS_URL", None)
    command = [sys.executable, "manage.py", "export_onboarding_answers", "--batch-size", "1"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(export_root.glob(".partial-*/part-00003.ndjson")):
            assert process.poll() is None, "the export finished before it could be killed"
            assert time.monotonic() < deadline, "the export wrote no parts within 60 s"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)

    assert run_dirs(export_root) == []  # parts exist only in the hidden staging directory
    assert ExportRun.objects.get().status == ExportRun.Status.RUNNING  # the process died without a word

    result = answers_export()

    assert result.rows == 300
    assert sorted(session_ids(read_lines(run_dirs(export_root)[0]))) == sorted(str(s.session_id) for s in snapshots)
    assert [path.name for path in export_root.iterdir()] == [run_dirs(export_root)[0].name]  # staging removed
