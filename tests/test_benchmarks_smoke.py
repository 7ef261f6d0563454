"""Every benchmark under benchmarks/ still runs: started with ``--smoke``, it measures and prints its ratios.

Benchmarks are not tests and never fail on a time: these check only that each one starts, gets to
its measurements and prints the comparison it exists to make. Each gets PostgreSQL databases of its
own, named after the test database and dropped afterwards; the load run also empties a Redis
database of its own (``BENCH_SMOKE_REDIS_URL``, default DB 14).
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_SMOKE_REDIS_URL", "redis://127.0.0.1:6379/14")
# Scripts that run as part of a benchmark, not as one.
HELPERS = {"load/seed.py"}


def test_every_benchmark_takes_smoke_and_has_a_smoke_run_here():
    scripts = {
        str(path.relative_to(ROOT / "benchmarks"))
        for path in (ROOT / "benchmarks").rglob("*.py")
        if '__name__ == "__main__"' in path.read_text()
    } - HELPERS
    this_module = Path(__file__).read_text()

    assert all("add_smoke_flag" in (ROOT / "benchmarks" / script).read_text() for script in scripts), scripts
    assert all(f'"{script}"' in this_module for script in scripts), scripts


@pytest.fixture
def bench_database(request):
    """Return (server URL, database name) for a benchmark's own database, dropped afterwards."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the benchmarks measure PostgreSQL")
    server = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}"
    # The test database's name (test_onboarding, say) keeps parallel runs of the suite apart.
    name = f"{settings['NAME']}_bench_{request.node.name.removeprefix('test_')[:20]}"
    yield server, name
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_benchmark(script: str, *args: str, timeout: float = 180) -> str:
    """Run ``benchmarks/<script> --smoke`` and return what it printed; it must exit 0."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_aggregation_benchmark_prints_the_backfill_against_the_raw_limit(bench_database):
    server, name = bench_database
    output = run_benchmark("aggregation.py", "--database-url", f"{server}/{name}")
    assert "backfill / raw =" in output and "live ingestion:" in output
    assert "same counts: True" in output


def test_the_export_benchmark_prints_the_export_against_copy(bench_database):
    server, name = bench_database
    output = run_benchmark("export.py", "--server", server, "--db", name)
    assert "ratio export/COPY" in output and "peak memory growth" in output


def test_the_admin_answers_benchmark_prints_the_deep_page_against_the_first(bench_database):
    server, name = bench_database
    output = run_benchmark("admin_answers.py", "--database-url", f"{server}/{name}")
    assert "deep/first =" in output and "OFFSET/keyset =" in output


def test_the_api_progress_benchmark_prints_patch_against_the_baseline(bench_database):
    server, name = bench_database
    output = run_benchmark("api_progress.py", "--pg-url", server, "--database", name)
    assert "PATCH/baseline throughput ratio:" in output


def test_the_staff_scale_benchmark_prints_each_page_against_its_direct_scan(bench_database):
    server, name = bench_database
    output = run_benchmark("staff_scale.py", "--database-url", f"{server}/{name}")
    assert "scan/p50" in output and "slowest p50:" in output
    assert "counts equal: yes" in output and "counts equal: NO" not in output


def test_the_privacy_benchmark_prints_an_erasure_and_the_purge_and_finds_no_drift(bench_database):
    server, name = bench_database
    output = run_benchmark("privacy.py", "--database-url", f"{server}/{name}")
    assert "erase one person" in output and "purged" in output
    assert "totals drift: 0, funnel drift: 0" in output


def test_the_retention_under_load_benchmark_prints_the_patch_p99_during_the_purge_against_without(bench_database):
    server, name = bench_database
    output = run_benchmark("retention_under_load.py", "--pg-url", server, "--database", name)
    assert "old events before 2,000, after 0" in output
    assert "PATCH p99 during/without ratio:" in output


def test_the_webhooks_benchmark_prints_the_worker_against_a_bare_loop(bench_database):
    server, name = bench_database
    output = run_benchmark("webhooks.py", "--database-url", f"{server}/{name}", "--redis-url", REDIS_URL)
    assert "ratio" in output.lower()


@pytest.mark.browser
def test_the_page_weight_benchmark_prints_javascript_against_plain_html(bench_database):
    server, name = bench_database
    output = run_benchmark("page_weight.py", "--pg-url", server, "--database", name, timeout=300)
    assert "Fast 3G: JS / no JS =" in output and "Slow 4G: JS / no JS =" in output


@pytest.mark.browser
def test_the_chaos_run_drives_journeys_through_failures_and_prints_recovery_against_clean_saves(bench_database):
    server, name = bench_database
    output = run_benchmark(
        "chaos.py", "--database-url", f"{server}/{name}", "--redis-url", REDIS_URL, "--seed", "2", timeout=600
    )
    assert "server restart:" in output and "recovery, server reachable again -> server holds it" in output
    assert "answers lost (typed, not held at the end):" in output and "applied twice:" in output, output[-3000:]
    assert "journeys whose page disagreed with the server at the end:" in output, output[-3000:]
    assert "with / without, p50 =" in output and "check_onboarding_totals exit 0" in output, output[-3000:]


def test_the_load_run_brings_the_stack_up_checks_the_books_and_the_webhooks_of_a_receiver_outage(bench_database):
    server, name = bench_database
    # Its exit status says whether the latency targets were met, which a smoke run cannot judge:
    # run it by hand and read its last lines instead of run_benchmark's status check.
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load/run.py"), "--smoke", "--webhook-receiver-down"]
        + ["--database-url", f"{server}/{name}", "--redis-url", REDIS_URL],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout
    assert done.returncode in (0, 1), f"load/run.py exited {done.returncode}:\n{output[-3000:]}\n{done.stderr[-3000:]}"
    assert "lost completions (completed sessions without a snapshot): 0" in output, output[-3000:]
    assert "check_onboarding_totals: exit 0" in output and "targets: zero 5xx: yes" in output, output[-3000:]
    assert "events lost (created - received): 0;" in output and "(more than one: 0;" in output, output[-3000:]
    assert "drain / schedule =" in output, output[-3000:]
