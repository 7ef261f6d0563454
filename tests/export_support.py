"""Helpers of the export tests: an export storage in a temporary directory, and reading runs back."""

import gzip
import json
from pathlib import Path

import pytest

from aggregation.export import MANIFEST_NAME


@pytest.fixture
def export_root(tmp_path, settings) -> Path:
    """Point STORAGES["onboarding_exports"] at a temporary directory (Django resets its storage cache)."""
    root = tmp_path / "exports"
    settings.STORAGES = {
        **settings.STORAGES,
        "onboarding_exports": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    return root


def run_dirs(root: Path) -> list[Path]:
    """Return the published run directories, oldest first (hidden staging directories excluded)."""
    if not root.exists():
        return []
    return sorted(path for path in root.iterdir() if not path.name.startswith("."))


def read_manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / MANIFEST_NAME).read_text())


def read_lines(run_dir: Path) -> list[dict]:
    """Return every line of a run's part files, in manifest order, parsed."""
    documents = []
    for entry in read_manifest(run_dir)["files"]:
        path = run_dir / entry["name"]
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as lines:
            documents.extend(json.loads(line) for line in lines)
    return documents


def session_ids(documents: list[dict]) -> list[str]:
    return [document["session_id"] for document in documents]
