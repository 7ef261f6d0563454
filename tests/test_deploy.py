"""Production settings and serving, each checked on a real process with the environment a deploy gives.

Every test here starts `manage.py` or gunicorn with an environment of its own (no DEBUG, no
development defaults), as a deploy would.
"""

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def production_variables() -> dict[str, str]:
    """Return the documented production variables (the `production.env` block), a real key filled in."""
    page = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"```sh\n# production\.env\n(.*?)```", page, re.S)
    assert block, "docs/operations.md has a `# production.env` block in its deployment section"
    variables = {}
    for line in block.group(1).splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            variables[name] = value
    variables["SECRET_KEY"] = secrets.token_urlsafe(50)  # the page shows how to make one
    return variables


def clean_environment(**variables) -> dict[str, str]:
    """The test process's environment without any project setting, plus ``variables``."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "DJANGO_SETTINGS_MODULE": "onboarding_project.settings",
        **variables,
    }


def manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_debug_is_off_unless_set():
    env = clean_environment(SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run(
        [PYTHON, "-c", "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_with_debug_off_there_is_no_default_secret_key():
    result = manage("check", env=clean_environment())
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_check_deploy_reports_nothing_with_the_documented_production_variables(tmp_path):
    env = clean_environment(**production_variables())
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNING" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """Run collectstatic with DEBUG off (hashed names, compressed copies) into a directory of the test's."""
    root = tmp_path_factory.mktemp("static")
    env = clean_environment(**{**production_variables(), "STATIC_ROOT": str(root)})
    collected = manage("collectstatic", "--noinput", env=env)
    assert collected.returncode == 0, collected.stderr
    return root


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory, static_root):
    """gunicorn with DEBUG off (the documented production variables, plain HTTP locally)."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = clean_environment(
        **{
            **production_variables(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "STATIC_ROOT": str(static_root),
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_FORMAT": "json",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "API_DOCS_STAFF_ONLY": "false",  # the docs page's assets are fetched without logging in
        }
    )
    env.pop("REDIS_URL")  # the embedded default: no broker needed to serve pages
    log = open(tmp / "gunicorn.log", "w+")
    with serving_gunicorn(env, log) as base:
        yield base, log
    log.close()


@contextlib.contextmanager
def serving_gunicorn(env: dict, log):
    """Run gunicorn with gunicorn.conf.py and ``env`` until its /healthz answers; yield its base URL, then stop it."""
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "onboarding_project.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{env['HOST']}:{env['PORT']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if fetch(f"{base}/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        log.seek(0)
        pytest.fail(f"gunicorn did not start:\n{log.read()}")
    try:
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def linked_assets(page: bytes, pattern: str) -> list[str]:
    return re.findall(rf'(?:href|src)="(/static/{pattern}[^"]*)"', page.decode())


def assert_served_compressed_for_ever(base: str, path: str):
    status, headers, body = fetch(base + path, **{"Accept-Encoding": "gzip"})
    assert status == 200, path
    assert body, path
    assert "max-age=315360000" in headers.get("Cache-Control", ""), (path, headers)  # hashed name: cached for ever
    if path.endswith((".css", ".js")):
        assert headers.get("Content-Encoding") == "gzip", (path, headers)


def test_gunicorn_serves_the_admin_css_with_debug_off(gunicorn):
    base, _ = gunicorn
    status, _, page = fetch(f"{base}/admin/login/")
    assert status == 200
    stylesheets = linked_assets(page, "admin/css/")
    assert stylesheets and all(re.search(r"\.[0-9a-f]{12}\.css$", href) for href in stylesheets), stylesheets
    for href in stylesheets:
        assert_served_compressed_for_ever(base, href)


def test_gunicorn_serves_the_site_css_with_debug_off(gunicorn):
    base, _ = gunicorn
    status, _, page = fetch(f"{base}/accounts/login/")
    assert status == 200
    [stylesheet] = linked_assets(page, "onboarding/site")
    assert_served_compressed_for_ever(base, stylesheet)
    assert b"body" in fetch(base + stylesheet)[2]


def test_gunicorn_serves_the_client_bundle_hashed_compressed_for_ever_with_its_source_map(gunicorn):
    base, _ = gunicorn
    status, _, page = fetch(f"{base}/accounts/login/")
    assert status == 200
    [bundle] = linked_assets(page, "onboarding/build/client")
    assert re.fullmatch(r"/static/onboarding/build/client\.[0-9a-f]{12}\.js", bundle), bundle
    assert_served_compressed_for_ever(base, bundle)
    status, headers, _ = fetch(base + bundle, **{"Accept-Encoding": "br, gzip"})
    assert (status, headers.get("Content-Encoding")) == (200, "br")
    # collectstatic points the bundle at its source map's hashed name too.
    source_map = re.search(rb"//# sourceMappingURL=(client\.js\.[0-9a-f]{12}\.map)\n?$", fetch(base + bundle)[2])
    assert source_map, "the bundle names no hashed source map"
    status, headers, _ = fetch(
        f"{base}/static/onboarding/build/{source_map.group(1).decode()}", **{"Accept-Encoding": "br, gzip"}
    )
    # Read by developer tools only: served, not compressed (collectstatic skips source maps).
    assert (status, headers.get("Content-Encoding")) == (200, None)


def test_gunicorn_serves_the_service_worker_precaching_the_hashed_and_plain_wizard_files(gunicorn):
    base, _ = gunicorn
    status, headers, body = fetch(f"{base}/o/sw.js")
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    precache = json.loads(re.search(rb"const PRECACHE = (\[.*?\]);", body).group(1))
    # <script src> and the worker's imports use hashed names; the imports' own relative imports the
    # plain ones: both are kept.
    assert any(re.fullmatch(r"/static/onboarding/build/client\.[0-9a-f]{12}\.js", url) for url in precache), precache
    assert "/static/vendor/idb/idb.js" in precache
    assert "/static/onboarding/lib/sender.js" in precache
    assert all(fetch(base + url)[0] == 200 for url in precache)
    assert re.search(rb'from "/static/onboarding/lib/[\w-]+\.[0-9a-f]{12}\.js"', body)


def test_gunicorn_serves_the_swagger_ui_assets_with_debug_off(gunicorn):
    base, _ = gunicorn
    status, _, page = fetch(f"{base}/api/docs/")
    assert status == 200
    assets = linked_assets(page, "drf_spectacular_sidecar/swagger-ui-dist/")
    assert {Path(href).suffix for href in assets} >= {".css", ".js"}, assets
    for href in assets:
        assert_served_compressed_for_ever(base, href)


def test_gunicorn_logs_json_lines_carrying_the_request_id(gunicorn):
    base, log = gunicorn
    request_id = uuid.uuid4().hex
    status, headers, _ = fetch(f"{base}/no-such-page/", **{"X-Request-ID": request_id})
    assert status == 404
    assert headers["X-Request-ID"] == request_id

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log.seek(0)
        lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("request_id") == request_id]
        if mine:
            break
        time.sleep(0.1)
    assert mine, "a JSON log line with the request id"
    assert mine[0]["logger"] == "django.request" and mine[0]["level"] == "WARNING"
    assert "/no-such-page/" in mine[0]["message"] and mine[0]["time"]


STACK_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def stack_database():
    """A database of its own for `make stack` (which creates and migrates it), dropped afterwards.

    Not the test database: the stack's worker and beat commit rows (the funnel fold's watermark,
    say) that the tests after this one would find.
    """
    from django.db import connection

    database = connection.settings_dict
    name = f"{database['NAME']}_stack"
    server = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_make_stack_runs_web_worker_and_beat_and_stops_cleanly_on_ctrl_c(stack_database, static_root, tmp_path):
    """`make stack` against a database of its own and Redis DB 15; then Ctrl-C."""
    port = free_port()
    env = clean_environment(
        STACK_DATABASE_URL=stack_database,
        STACK_REDIS_URL=STACK_REDIS_URL,
        PORT=str(port),
        STATIC_ROOT=str(static_root),
        WEB_CONCURRENCY="1",
    )
    output = open(tmp_path / "stack.log", "w+")
    make = subprocess.Popen(
        ["make", "--no-print-directory", "stack"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            output.seek(0)
            log = output.read()
            ready = "celery@" in log and " ready." in log and "beat: Starting" in log
            try:
                if ready and fetch(f"http://127.0.0.1:{port}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert make.poll() is None, log
            time.sleep(0.3)
        else:
            pytest.fail(f"the stack did not come up:\n{log}")
        status, _, page = fetch(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200 and linked_assets(page, "onboarding/site")

        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        make.wait(timeout=45)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    output.seek(0)
    log = output.read()
    with pytest.raises(ProcessLookupError):  # gunicorn, the worker and beat are all gone
        os.killpg(make.pid, 0)
    assert "Shutting down: Master" in log  # gunicorn stopped gracefully
    assert "worker.1 stopped" in log and "beat.1 stopped" in log and "web.1 stopped" in log, log
