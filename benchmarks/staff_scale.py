"""Benchmark: every staff page and endpoint at 1,000,000 onboarding sessions (not a test).

It times, through the real views (Django's test ``Client``: URL routing, middleware, a staff
session, the view, the template or JSON rendering), the staff funnel (API and admin page, all
time, 30 days, the last hour), the totals endpoint, and every big admin list (sessions, events,
outbox, snapshots) without and with each filter, a date drill-down and a search. Beside each p50
it prints the p50 of the direct-scan queries the same page ran before the rollups (the old funnel
selector's GROUP BY and percentile_cont; the old lists' COUNT(*), SELECT DISTINCT filter
lookups and date drill-down, and their unindexed order or substring search), as a ratio. Then it
checks the funnel's figures against a direct computation from the sessions and events (counts
equal, median and p90 within the histogram's stated error). Target: every p50 under 200 ms.

    .venv/bin/python benchmarks/staff_scale.py --database-url postgres://postgres@127.0.0.1:5432/onb_bench_scale
    .venv/bin/python benchmarks/staff_scale.py --sessions 50000          # a quick run (its own data size)
    .venv/bin/python benchmarks/staff_scale.py --smoke                   # a tiny run: it works (figures mean nothing)
    .venv/bin/python benchmarks/staff_scale.py --regenerate              # generate the data again
    .venv/bin/python benchmarks/staff_scale.py --rebuild-rollups         # time the rollups' backfill again

The data (``benchmarks/staff_scale_data.py``) is generated once per size and reused; so are the
rollups, built the first time by the backfill path (``backfill_onboarding_funnel``), whose rate is
printed. It never fails on a time.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.django_setup import ensure_database, setup_django  # noqa: E402
from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/onb_bench_scale"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions to generate (default 1,000,000)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--regenerate", action="store_true", help="drop and generate the data again")
    parser.add_argument("--generate-only", action="store_true", help="generate (or reuse) the data, then stop")
    parser.add_argument("--rebuild-rollups", action="store_true", help="throw the rollups away and build them again")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page (default 15)")
    parser.add_argument("--scan-repeat", type=int, default=3, help="timed runs of each direct scan (default 3)")
    add_smoke_flag(parser, sessions=2000, repeat=2, scan_repeat=1)
    return apply_smoke(parser.parse_args())


def ensure_data(sessions: int, regenerate: bool) -> None:
    from django.db import connection, transaction

    from benchmarks import staff_scale_data as data

    with connection.cursor() as cursor:
        existing = data.generated_sessions(cursor)
    if existing == sessions and not regenerate:
        print(f"reusing {sessions:,} generated sessions")
        return
    print(f"generating {sessions:,} sessions and their events, snapshots and outbox rows ...", flush=True)
    with transaction.atomic(), connection.cursor() as cursor:  # DDL too: a failure keeps the indexes
        seconds = data.generate(cursor, sessions)
    with connection.cursor() as cursor:
        data.vacuum_analyze(cursor)
    print(f"generated in {seconds:.0f} s (plus VACUUM ANALYZE)", flush=True)


def ensure_rollups(rebuild: bool) -> None:
    """Build the rollups the first time (the backfill path, timed), else fold whatever is new."""
    from aggregation.funnel import funnel_fold, funnel_rebuild, funnel_watermark
    from onboarding.models import OnboardingEvent

    if funnel_watermark() is not None and not rebuild:
        outcome = funnel_fold()
        print(f"reusing the rollups (folded {outcome.events:,} new events)")
        return
    events = OnboardingEvent.objects.count()
    print(f"building the rollups from {events:,} events (backfill_onboarding_funnel --rebuild) ...", flush=True)
    started = time.perf_counter()
    outcome = funnel_rebuild()
    seconds = time.perf_counter() - started
    print(
        f"rollups built in {seconds:.0f} s: {outcome.events / seconds:,.0f} events/s, {outcome.chunks} chunks",
        flush=True,
    )


def main():
    args = parse_args()
    ensure_database(args.database_url)
    # The admin pages link static files: collect them, as a deployment does, outside the checkout.
    # (Not the API docs' Swagger UI nor DRF's browsable API: the pages timed link neither.)
    setup_django(
        args.database_url,
        static_root=os.path.join(tempfile.gettempdir(), "onb-bench-staff-static"),
        static_ignore=("drf_spectacular_sidecar", "rest_framework"),
    )
    ensure_data(args.sessions, args.regenerate)
    if args.generate_only:
        return
    ensure_rollups(args.rebuild_rollups)
    from benchmarks import staff_scale_cases as cases

    cases.run(repeat=args.repeat, scan_repeat=args.scan_repeat)


if __name__ == "__main__":
    main()
