"""Benchmark the NDJSON export against PostgreSQL's own COPY, and its peak memory at two sizes.

    .venv/bin/python benchmarks/export.py                       # 100,000 and 400,000 snapshots
    .venv/bin/python benchmarks/export.py --rows 20000 80000    # a quick run
    .venv/bin/python benchmarks/export.py --smoke               # a tiny run: it works (figures mean nothing)

For each size it fills a dedicated database (default onb_bench_export, created and migrated if
missing) with realistic snapshots, then measures, on the same rows in the same order:
  - COPY (SELECT row_to_json(...) ORDER BY ingested_at, session_id) TO STDOUT read through psycopg,
  - ``answers_export(full=True, output_dir=...)`` in a fresh subprocess, which reports its rate
    and its peak RSS (VmHWM).
Targets: export >= 70% of the COPY rate; peak memory grows < 25 MB from the smallest to the
largest size. A benchmark, not a test: it prints figures and ratios, and never fails on a time.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.django_setup import production_environment  # noqa: E402
from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

COLUMNS = "session_id, user_id, workspace_id, role, answer_schema_version, completed_at, answers, flattened, flags"
COPY_SQL = (
    f"COPY (SELECT row_to_json(t) FROM (SELECT {COLUMNS} FROM onboarding_answer_snapshots"
    " ORDER BY ingested_at, session_id) t) TO STDOUT"
)
USERS = 1000
VARIANTS = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 400_000], help="snapshot counts to measure")
    parser.add_argument("--db", default="onb_bench_export", help="the dedicated database (dropped data each size)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--gzip", action="store_true", help="export with --gzip as well (slower, for information)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one export in this process
    add_smoke_flag(parser, rows=[200, 400])
    args = apply_smoke(parser.parse_args())
    if args.child:
        return child_export(args.child, compress=args.gzip)
    database_url = f"{args.server}/{args.db}"
    production_environment(database_url)  # read by this process and the export's subprocesses
    prepare_database(args.server, args.db, database_url)
    results = []
    for rows in args.rows:
        fill_snapshots(database_url, rows)
        copy = measure_copy(database_url)
        export = measure_export(database_url, compress=False)
        extra = measure_export(database_url, compress=True) if args.gzip else None
        results.append((rows, copy, export, extra))
        report_size(rows, copy, export, extra)
    report_summary(results)


def prepare_database(server: str, name: str, database_url: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def variant_documents() -> list[tuple[str, str, str]]:
    """Return (role, answers, flattened) JSON variants built from the real answer shapes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding_project.settings")
    import django

    django.setup()
    from aggregation.snapshots.normalise import flatten_answers
    from onboarding.manifest import STEP_KEYS
    from tests.factories import valid_answers

    roles = ["engineering", "design", "product", "data", "marketing", "sales", "support", "operations"]
    sizes, themes = ["1", "2-10", "11-50", "51-200"], ["system", "light", "dark"]
    variants = []
    for k in range(VARIANTS):
        answers = {step: valid_answers(step) for step in STEP_KEYS}
        answers["profile"].update(role=roles[k % 8], job_title=f"Title {k}")
        answers["work-profile"].update(team_size=sizes[k % 4], team_name=f"Team {k}")
        answers["preferences"]["theme"] = themes[k % 3]
        answers["invites"]["emails"] = [f"mate{k}-{n}@example.com" for n in range(k % 4)]
        answers["workspace"]["workspace_name"] = f"Workspace {k}"
        variants.append((roles[k % 8], json.dumps(answers), json.dumps(flatten_answers(answers))))
    return variants


def fill_snapshots(database_url: str, rows: int) -> None:
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE onboarding_answer_snapshots, onboarding_export_runs")
        conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined) SELECT '!', false, 'bench' || g, '', '', 'bench' || g || '@example.org',"
            " false, true, now() FROM generate_series(1, %s) g ON CONFLICT (username) DO NOTHING",
            [USERS],
        )
        user_ids = [r[0] for r in conn.execute("SELECT id FROM auth_user WHERE username LIKE 'bench%%' ORDER BY id")]
        conn.execute("DROP TABLE IF EXISTS bench_variants")
        conn.execute(
            "CREATE UNLOGGED TABLE bench_variants (k int primary key, role text, answers jsonb, flattened jsonb)"
        )
        with conn.cursor().copy("COPY bench_variants (k, role, answers, flattened) FROM STDIN") as copy:
            for k, variant in enumerate(variant_documents()):
                copy.write_row((k, *variant))
        conn.execute(
            # full_name differs on every row (answers and its flattened row, index 0), like real data.
            "INSERT INTO onboarding_answer_snapshots (session_id, user_id, workspace_id, role, answer_schema_version,"
            " completed_at, answers, flattened, flags, ingested_at)"
            " SELECT md5('bench' || g)::uuid, (%s::int[])[1 + g %% %s], NULL, v.role, 1,"
            "  now() - (%s - g) * interval '10 ms' - interval '2 s',"
            "  jsonb_set(v.answers, '{profile,full_name}', to_jsonb('Person ' || g)),"
            "  jsonb_set(v.flattened, '{0,value}', to_jsonb('Person ' || g)),"
            "  jsonb_build_object('onboarding-ai-question', g %% 2 = 0),"
            "  now() - (%s - g) * interval '10 ms'"
            " FROM generate_series(1, %s) g JOIN bench_variants v ON v.k = g %% %s",
            [user_ids, len(user_ids), rows, rows, rows, VARIANTS],
        )
        conn.execute("VACUUM ANALYZE onboarding_answer_snapshots")
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('onboarding_answer_snapshots'))").fetchone()
    print(f"\n== {rows:,} snapshots (table {size[0]}, filled in {time.perf_counter() - started:.1f} s)", flush=True)


def measure_copy(database_url: str) -> dict:
    with psycopg.connect(database_url) as conn:
        started, size, lines = time.perf_counter(), 0, 0
        with conn.cursor().copy(COPY_SQL) as copy:
            for block in copy:
                size += len(block)
                lines += bytes(block).count(b"\n")
        seconds = time.perf_counter() - started
    return {"rows": lines, "seconds": seconds, "bytes": size}


def measure_export(database_url: str, *, compress: bool) -> dict:
    output = tempfile.mkdtemp(prefix="onb-bench-export-")
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    command = [sys.executable, __file__, "--child", output] + (["--gzip"] if compress else [])
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(output, ignore_errors=True)


def child_export(output: str, *, compress: bool) -> None:
    """Run one full export into ``output`` and print its figures as JSON (in a fresh process)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding_project.settings")
    import django

    django.setup()
    from aggregation.export import answers_export

    before = vm_hwm_kb()
    started = time.perf_counter()
    result = answers_export(full=True, output_dir=output, compress=compress)
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in Path(output).rglob("*") if path.is_file())
    print(
        json.dumps(
            {
                "rows": result.rows,
                "files": result.file_count,
                "seconds": seconds,
                "bytes": size,
                "rss_before_kb": before,
                "peak_rss_kb": vm_hwm_kb(),
            }
        )
    )


def vm_hwm_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def report_size(rows, copy, export, extra) -> None:
    copy_rate, export_rate = copy["rows"] / copy["seconds"], export["rows"] / export["seconds"]
    print(
        f"COPY row_to_json     {copy['rows']:>9,} rows {copy['seconds']:7.2f} s {copy_rate:>10,.0f} rows/s"
        f"  {copy['bytes'] / 2**20:7.1f} MiB"
    )
    print(
        f"export (NDJSON)      {export['rows']:>9,} rows {export['seconds']:7.2f} s {export_rate:>10,.0f} rows/s"
        f"  {export['bytes'] / 2**20:7.1f} MiB in {export['files']} files;"
        f" peak RSS {export['peak_rss_kb'] / 1024:.1f} MiB (after setup {export['rss_before_kb'] / 1024:.1f})"
    )
    if extra:
        rate = extra["rows"] / extra["seconds"]
        print(
            f"export --gzip        {extra['rows']:>9,} rows {extra['seconds']:7.2f} s {rate:>10,.0f} rows/s"
            f"  {extra['bytes'] / 2**20:7.1f} MiB; peak RSS {extra['peak_rss_kb'] / 1024:.1f} MiB"
        )
    print(f"ratio export/COPY    {export_rate / copy_rate:.0%}  (target >= 70%)", flush=True)


def report_summary(results) -> None:
    print("\n== summary")
    for rows, copy, export, _ in results:
        ratio = (export["rows"] / export["seconds"]) / (copy["rows"] / copy["seconds"])
        print(f"{rows:>9,} snapshots: export {ratio:.0%} of COPY, peak RSS {export['peak_rss_kb'] / 1024:.1f} MiB")
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = (large[2]["peak_rss_kb"] - small[2]["peak_rss_kb"]) / 1024
        print(f"peak memory growth {small[0]:,} -> {large[0]:,} snapshots: {growth:+.1f} MiB  (target < 25 MB)")


if __name__ == "__main__":
    main()
