"""Benchmark: the first wizard step on a slow network, with JavaScript against without it.

Not a test: it prints figures and ratios, and never fails on a time.

    .venv/bin/python benchmarks/page_weight.py [--runs 3] [--pg-url postgres://postgres@127.0.0.1:5432]

It creates (drops first) its own PostgreSQL database (``onb_bench_page_weight``), migrates it,
collects the static files into a temporary STATIC_ROOT (hashed, pre-compressed names, as a deploy
does), creates one user whose session is at the first step, and serves the project twice with
gunicorn, DEBUG off, WhiteNoise serving the static files:

- the site as it is: every page loads the client as one bundled file (``make bundle``);
- the same site with a base template that loads the client unbundled, as it was before the bundle
  (``benchmarks.page_weight_site.settings``): ``init.js`` and a ``<link rel="modulepreload">`` for
  every module it reaches, read from their import statements.

Then, in Debian's Chromium through Playwright, each load in a fresh browser context (empty HTTP
cache, no service worker, logged in by cookie), under a network emulated over CDP
(``Network.emulateNetworkConditions``: every request pays the latency, bytes flow at the rate):

- Fast 3G, Chrome DevTools' preset: 562.5 ms round trip, 1.44 Mbit/s down, 675 kbit/s up;
- Slow 4G, Lighthouse's mobile profile: 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up.

It times ``/o/profile/`` from navigation to "usable": without JavaScript, the ``load`` event;
with it, the ``load`` event and the client running (its status element shown). The three kinds of
load are interleaved over ``--runs`` rounds; the median of each is printed with the ratios
JS / no JS, bundled and unbundled.

``--waterfall`` also prints, for the last load of each kind, every request with its start and end
(from navigation) and its size: what a ratio is made of.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.smoke import add_smoke_flag, apply_smoke  # noqa: E402

PYTHON = sys.executable
PASSWORD = "bench-password-not-secret"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--no-first-run"]
PROFILES = {
    # bytes per second; DevTools scales its presets' nominal rates by 0.9 (Fast 3G: 1.6 Mbit/s, 750 kbit/s).
    "Fast 3G": {"latency": 562.5, "downloadThroughput": 1.6e6 / 8 * 0.9, "uploadThroughput": 750e3 / 8 * 0.9},
    "Slow 4G": {"latency": 150.0, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
}
KINDS = ("no JS", "JS", "JS, unbundled")
BUNDLE_LINE = "{% static 'onboarding/build/client.js' %}"
ENHANCED = "[data-sync-state]:not([hidden])"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (no database name)",
    )
    parser.add_argument("--database", default="onb_bench_page_weight")
    parser.add_argument("--runs", type=int, default=3, help="loads of each kind per network profile")
    parser.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place")
    parser.add_argument("--waterfall", action="store_true", help="print the requests of each kind's last load")
    add_smoke_flag(parser, runs=1)
    return apply_smoke(parser.parse_args())


def database_url(args) -> str:
    parts = urlsplit(args.pg_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{args.database}", "", ""))


def recreate_database(args, *, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(f"{args.pg_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{args.database}"')


def server_env(args, static_root: str, templates_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "onboarding_project.settings",
            "DATABASE_URL": database_url(args),
            "DEBUG": "false",
            "STATIC_ROOT": static_root,
            "BENCH_TEMPLATES_DIR": templates_dir,
            "SECRET_KEY": "benchmark-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


SEED = """
import django
django.setup()
from django.contrib.auth import get_user_model
from onboarding import services
user = get_user_model().objects.create_user("weight", "weight@example.org", {password!r})
services.session_get_or_start(user=user, source="system")
"""


def prepare(env) -> None:
    """Migrate, collect the static files and create the user (each a short subprocess)."""
    for command in (
        ["manage.py", "migrate", "--noinput", "-v", "0"],
        # The wizard's page links none of the admin's, the API docs' or DRF's files: not collected,
        # which saves most of collectstatic's hashing and compressing.
        ["manage.py", "collectstatic", "--noinput", "-v", "0", "-i", "admin", "-i", "drf_spectacular_sidecar"]
        + ["-i", "rest_framework"],
    ):
        subprocess.run([PYTHON, *command], cwd=ROOT, env=env, check=True)
    subprocess.run([PYTHON, "-c", SEED.format(password=PASSWORD)], cwd=ROOT, env=env, check=True)


def module_names(entry: str) -> list[str]:
    """Return ``entry`` and every module it reaches, as static names (read from their import statements)."""
    from onboarding.wizard.module_graph import module_imports

    names, pending = [entry], [entry]
    while pending:
        name = pending.pop(0)
        for specifier in module_imports((ROOT / "static" / name).read_text()):
            imported = os.path.normpath(os.path.join(os.path.dirname(name), specifier))
            if specifier.startswith(("./", "../")) and imported not in names:
                names.append(imported)
                pending.append(imported)
    return names


def write_base_unbundled(templates_dir: str) -> None:
    """Write templates/base.html with init.js and a module preload per module in place of the bundle."""
    entry, *modules = module_names("onboarding/init.js")
    # The modules' imports are not rewritten by collectstatic: they fetch the plain names.
    preloads = "".join(f'  <link rel="modulepreload" href="/static/{name}">\n' for name in modules)
    lines = []
    for line in (ROOT / "templates" / "base.html").read_text().splitlines(keepends=True):
        if BUNDLE_LINE in line:
            line = line.replace(BUNDLE_LINE, "{% static '" + entry + "' %}") + preloads
        lines.append(line)
    assert any("modulepreload" in line for line in lines), f"templates/base.html has no {BUNDLE_LINE}"
    Path(templates_dir, "base.html").write_text("".join(lines))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env, settings_module: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [str(Path(PYTHON).parent / "gunicorn"), "onboarding_project.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning", "--access-logfile", "/dev/null"]
    server = subprocess.Popen(command, cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": settings_module})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def log_in(browser, url: str) -> dict:
    """Log in once and return the browser state (cookies) each fresh context starts from."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill("weight")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/o/profile/")
    state = context.storage_state()
    context.close()
    return {"cookies": state["cookies"], "origins": []}


def load_once(browser, state: dict, url: str, profile: dict, *, javascript: bool, requests=None) -> float:
    """Return the milliseconds from navigation to the first step being usable, in a fresh context.

    With a list as ``requests``, each finished request of the load is appended to it.
    """
    context = browser.new_context(java_script_enabled=javascript, storage_state=state, service_workers="block")
    page = context.new_page()
    if requests is not None:
        page.on("requestfinished", lambda request: requests.append(request))
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, **profile})
    try:
        started = time.perf_counter()
        page.goto(f"{url}/o/profile/", wait_until="load", timeout=60_000)
        if javascript:
            page.locator(ENHANCED).wait_for(timeout=60_000)
        elapsed = (time.perf_counter() - started) * 1000
        assert page.url.endswith("/o/profile/"), page.url
        if requests is not None:
            requests[:] = [waterfall_row(request) for request in requests]
        return elapsed
    finally:
        context.close()


def waterfall_row(request) -> tuple[float, float, int, str]:
    """Return (start ms since the epoch, end ms, encoded response bytes, path) of a finished request."""
    timing, sizes = request.timing, request.sizes()
    return timing["startTime"], timing["startTime"] + timing["responseEnd"], sizes["responseBodySize"], request.url


def print_waterfall(title: str, usable_ms: float, rows: list) -> None:
    origin = min(start for start, *_ in rows)
    print(f"\n{title}: usable at {usable_ms:.0f} ms; {len(rows)} requests, {sum(r[2] for r in rows)} bytes")
    print(f"{'start ms':>9} {'end ms':>8} {'bytes':>7}  path")
    for start, end, size, url in sorted(rows):
        print(f"{start - origin:9.0f} {end - origin:8.0f} {size:7d}  {urlsplit(url).path}")


def measure(args, servers: dict) -> dict:
    from playwright.sync_api import sync_playwright

    figures = {(name, kind): [] for name in PROFILES for kind in KINDS}
    waterfalls = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            state = log_in(browser, servers["bundled"])
            for round_number in range(args.runs):
                for name, profile in PROFILES.items():
                    for kind in KINDS:
                        url = servers["unbundled" if kind == "JS, unbundled" else "bundled"]
                        requests = [] if args.waterfall and round_number == args.runs - 1 else None
                        ms = load_once(browser, state, url, profile, javascript=kind != "no JS", requests=requests)
                        figures[(name, kind)].append(ms)
                        if requests is not None:
                            waterfalls[(name, kind)] = (ms, requests)
                print(f"round {round_number + 1}/{args.runs} done", flush=True)
        finally:
            browser.close()
    for (name, kind), (ms, rows) in waterfalls.items():
        print_waterfall(f"{name}, {kind}", ms, rows)
    return figures


def report(figures: dict) -> None:
    print()
    print(f"{'network':10} {'page':18} {'median ms':>10} {'min ms':>8} {'max ms':>8}  runs")
    for (name, kind), values in figures.items():
        print(
            f"{name:10} {kind:18} {statistics.median(values):10.0f} {min(values):8.0f} {max(values):8.0f}  "
            f"{', '.join(f'{v:.0f}' for v in values)}"
        )
    print()
    for name in PROFILES:
        plain = statistics.median(figures[(name, "no JS")])
        with_js = statistics.median(figures[(name, "JS")])
        unbundled = statistics.median(figures[(name, "JS, unbundled")])
        print(
            f"{name}: JS / no JS = {with_js / plain:.2f} (target <= 1.5); "
            f"unbundled (init.js and module preloads) it would be {unbundled / plain:.2f}"
        )
    print(json.dumps({f"{name} | {kind}": round(statistics.median(v)) for (name, kind), v in figures.items()}))


def main():
    args = parse_args()
    assert os.path.exists(CHROMIUM), f"Chromium is missing at {CHROMIUM}"
    recreate_database(args)
    servers, processes = {}, []
    with tempfile.TemporaryDirectory(prefix="page-weight-") as temp:
        static_root, templates_dir = os.path.join(temp, "static"), os.path.join(temp, "templates")
        os.makedirs(templates_dir)
        write_base_unbundled(templates_dir)
        env = server_env(args, static_root, templates_dir)
        try:
            prepare(env)
            for name, settings_module in (
                ("bundled", "onboarding_project.settings"),
                ("unbundled", "benchmarks.page_weight_site.settings"),
            ):
                process, url = start_server(env, settings_module)
                processes.append(process)
                servers[name] = url
            print(f"gunicorn -w 2, DEBUG off, WhiteNoise; Chromium, a fresh context per load; {args.runs} runs each")
            report(measure(args, servers))
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            if not args.keep_db:
                recreate_database(args, create=False)


if __name__ == "__main__":
    main()
