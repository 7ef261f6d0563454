"""The export command and the nightly beat task: thin edges over the same service and lock."""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from aggregation.models import ExportRun
from onboarding_project.celery import app

from .export_support import export_root, read_lines, read_manifest, run_dirs  # noqa: F401
from .factories import AnswerSnapshotFactory
from .test_export_runs import _lock_held_elsewhere

pytestmark = pytest.mark.django_db


def export(*args) -> str:
    out = StringIO()
    call_command("export_onboarding_answers", *args, stdout=out)
    return out.getvalue()


def test_the_command_exports_and_prints_a_one_line_summary(export_root):
    AnswerSnapshotFactory.create_batch(5)

    output = export("--batch-size", "2", "--gzip")

    [run_dir] = run_dirs(export_root)
    assert output.count("\n") == 1
    assert output.startswith("Exported 5 snapshots (0 updated) in 3 files; ingested from the beginning until ")
    assert output.rstrip().endswith(f"; location {run_dir}")
    assert len(read_lines(run_dir)) == 5


def test_the_command_takes_since_until_and_output(export_root, tmp_path):
    AnswerSnapshotFactory.create_batch(2)

    output = export("--since", "2020-01-01", "--until", "2099-01-01T00:00:00Z", "--output", str(tmp_path / "out"))

    assert "Exported 2 snapshots" in output and "from 2020-01-01T00:00:00+00:00" in output
    assert len(read_lines(run_dirs(tmp_path / "out")[0])) == 2


def test_the_command_redacts_pii(export_root):
    AnswerSnapshotFactory()

    export("--redact-pii")

    assert "Ada Lovelace" not in (run_dirs(export_root)[0] / "part-00001.ndjson").read_text()


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "2026-13-01T00:00:00"])
def test_a_bad_date_is_a_clear_command_error(export_root, option, value):
    with pytest.raises(CommandError, match=f"{option}: '{value}' is not an ISO 8601 date"):
        export(option, value)
    assert not ExportRun.objects.exists()


def test_full_and_since_together_are_refused(export_root):
    with pytest.raises(CommandError, match="--full and --since contradict"):
        export("--full", "--since", "2026-01-01")


def test_a_dry_run_writes_nothing_and_keeps_the_watermark(export_root):
    AnswerSnapshotFactory.create_batch(3)

    output = export("--dry-run")

    assert output.startswith("Dry run (nothing written): would export 3 snapshots (0 updated) in 1 files;")
    assert not export_root.exists() and not ExportRun.objects.exists()


def test_the_command_refuses_while_another_export_holds_the_lock(export_root):
    with _lock_held_elsewhere():
        with pytest.raises(CommandError, match="another export is running"):
            export()


def test_the_beat_schedule_runs_the_exporter(export_root):
    AnswerSnapshotFactory.create_batch(4)
    entry = settings.CELERY_BEAT_SCHEDULE["onboarding-answers-nightly-export"]

    result = app.tasks[entry["task"]].apply()

    assert result.successful(), result.traceback
    [run_dir] = run_dirs(export_root)
    assert result.result == {"run_id": ExportRun.objects.get().pk, "rows": 4, "files": 1, "location": str(run_dir)}
    assert read_manifest(run_dir)["rows"] == 4


def test_the_beat_task_skips_while_another_export_runs(export_root):
    AnswerSnapshotFactory()
    with _lock_held_elsewhere():
        result = app.tasks["aggregation.export_onboarding_answers_nightly"].apply()

    assert result.successful() and result.result is None
    assert not ExportRun.objects.exists()
