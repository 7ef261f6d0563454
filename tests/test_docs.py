"""The documentation keeps up with the code: every setting on the operations page, a short README, no outside citations."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment_variables_read() -> set[str]:
    """Return the environment variables the settings, gunicorn.conf.py and the Procfile read."""
    names = set(
        re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', (ROOT / "onboarding_project/settings.py").read_text())
    )
    names |= set(re.findall(r"environ\.get\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", (ROOT / "gunicorn.conf.py").read_text()))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "Procfile").read_text()))
    return names


def test_every_environment_variable_is_in_the_operations_settings_table():
    page = (ROOT / "docs/operations.md").read_text()

    missing = sorted(name for name in environment_variables_read() if f"`{name}`" not in page)

    assert not missing, f"docs/operations.md does not describe: {', '.join(missing)}"


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def git_grep(*args: str) -> subprocess.CompletedProcess:
    """Search the tracked files but the vendored libraries (git grep exits 1 when nothing matches)."""
    return subprocess.run(
        ["git", "grep", "-n", *args, "--", ".", ":!static/vendor"], cwd=ROOT, capture_output=True, text=True
    )


def test_nothing_tracked_cites_a_file_outside_the_repository():
    found = git_grep("-E", r"\.\./shared|CONTRAC[T]")  # spelt so that this file does not match itself

    assert found.returncode == 1, found.stdout


def test_nothing_tracked_names_a_work_item_number():
    found = git_grep("-i", "-E", r"\bissues? #?[0-9]+\b")

    assert found.returncode == 1, found.stdout
