"""Export lines: the fast encoder is byte-equal to the snapshot document's one encoding."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone

from aggregation.export import answers_export
from aggregation.export.lines import ExportWindow, document_line_builder, export_line, export_rows, pii_fields
from aggregation.models import AnswerSnapshot
from aggregation.snapshots.documents import SNAPSHOT_DOCUMENT_FIELDS, snapshot_document, snapshot_line
from aggregation.snapshots.normalise import flatten_answers
from onboarding.manifest import KINDS, STEP_KEYS, field_kind
from onboarding.models import Workspace

from .export_support import export_root, read_manifest, run_dirs  # noqa: F401
from .factories import AnswerSnapshotFactory, valid_answers

pytestmark = pytest.mark.django_db

# Everything JSON escapes, and what it leaves alone: quotes, backslashes, control characters, a
# slash, DEL, accents, an emoji outside the BMP, the line separator U+2028, markup.
AWKWARD = 'Zoë "Zed" \\ back/slash\n\ttab\r\b\f\x01\x1f\x7f 😀 \u2028 <b>&amp;</b> 東京'


def _snapshot(answers: dict, **kwargs) -> AnswerSnapshot:
    return AnswerSnapshotFactory(answers=answers, flattened=flatten_answers(answers), **kwargs)


@pytest.fixture
def snapshots():
    """Snapshots holding every answer kind, awkward text, both booleans, a workspace and none."""
    every_step = {step: valid_answers(step) for step in STEP_KEYS}
    awkward = {step: valid_answers(step) for step in STEP_KEYS}
    awkward["profile"].update(full_name=AWKWARD, job_title="Ingénieure « principale »")
    awkward["tools"]["other_tools"] = [AWKWARD, "Miro", ""]
    awkward["invites"]["emails"] = ["zoë@example.org", "a+b@example.org"]
    awkward["preferences"]["product_updates"] = not every_step["preferences"]["product_updates"]
    awkward["workspace"]["workspace_name"] = AWKWARD
    workspace = Workspace.objects.create(name="Engines", slug="engines")
    return [
        _snapshot(every_step, workspace=workspace, flags={"onboarding-ai-question": True, "an-old-flag": False}),
        _snapshot(awkward, workspace=None, role='de"sign\\ é'),
        _snapshot({}, workspace=None, role=""),
        _snapshot(every_step, completed_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),  # no microseconds
    ]


def test_the_fixture_covers_every_answer_kind(snapshots):
    kinds = {field_kind(step, name) for s in snapshots for step, fields in s.answers.items() for name in fields}
    values = [item["value"] for s in snapshots for item in s.flattened]
    assert kinds == KINDS
    assert True in values and False in values


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path splices PostgreSQL's jsonb text")
def test_every_fast_line_is_byte_equal_to_the_documents_encoding(snapshots):
    window = ExportWindow(start=None, end=timezone.now())
    documents = {
        str(s.session_id): snapshot_document(s)
        for s in AnswerSnapshot.objects.all()  # decoded by Django, re-read
    }

    rows = list(export_rows(window, as_text=True))

    assert len(rows) == len(snapshots)
    for row in rows:
        assert export_line(row) == snapshot_line(documents[row[0]])


def test_a_document_line_is_the_document_as_json(snapshots):
    for row in export_rows(ExportWindow(start=None, end=timezone.now())):
        document = snapshot_document(dict(zip(SNAPSHOT_DOCUMENT_FIELDS, row, strict=False)))
        line = document_line_builder([])(row)
        assert line.endswith("}\n") and "\n" not in line[:-1]
        assert json.loads(line) == document
        assert list(json.loads(line)) == list(SNAPSHOT_DOCUMENT_FIELDS)


def test_a_redacted_line_is_encoded_like_any_other_without_the_pii(snapshots):
    row = next(r for r in export_rows(ExportWindow(start=None, end=timezone.now())) if r[6].get("profile"))
    document = snapshot_document(dict(zip(SNAPSHOT_DOCUMENT_FIELDS, row, strict=False)))
    for step, name in pii_fields():
        document["answers"].get(step, {}).pop(name, None)
    document["flattened"] = [i for i in document["flattened"] if (i["step"], i["question"]) not in set(pii_fields())]

    assert document_line_builder(pii_fields())(row) == snapshot_line(document)


def test_the_exported_file_is_the_documents_lines_in_ingestion_order(snapshots, export_root):  # noqa: F811
    answers_export()

    [run_dir] = run_dirs(export_root)
    [part] = read_manifest(run_dir)["files"]
    ordered = AnswerSnapshot.objects.order_by("ingested_at", "session_id")
    expected = "".join(snapshot_line(snapshot_document(s)) for s in ordered)
    assert (run_dir / part["name"]).read_text(encoding="utf-8") == expected
