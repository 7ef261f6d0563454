"""The browser tests' machinery: Debian's Chromium through Playwright, and a wizard server that
can really be stopped and started again.

``wizard_server`` runs the site in its own process (``manage.py runserver``) on the test
database, so a test can kill it (SIGKILL: connections refused, nothing answers) and start it
again **on the same port**: the origin stays the same, so the page's cookies, sessionStorage and
IndexedDB stay too. ``fail_next`` makes a route answer 503 at the network layer (Playwright),
never by stubbing ``fetch`` in page code.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still
# synchronous, so tell Django not to refuse them.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "a-long-passphrase-42"
PROJECT_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30


@pytest.fixture
def browser():
    # A missing Chromium must fail the run, never skip it: `make test` installs it.
    assert os.path.exists(CHROMIUM), f"Chromium is missing at {CHROMIUM}; run `make chromium`"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # ORM queries made under Playwright's loop open their own connection; close it so
            # the test database can be dropped at the end of the run.
            connections.close_all()


def new_page(browser, *, javascript=True):
    context = browser.new_context(java_script_enabled=javascript)
    _configure_context(context)
    return context, context.new_page()


def _configure_context(context) -> None:
    context.set_default_timeout(15_000)
    # Shown with a failing test's output: what the page's scripts said.
    context.on(
        "console",
        lambda message: (
            print(f"browser console {message.type}: {message.text}") if message.type in ("error", "warning") else None
        ),
    )
    context.on("weberror", lambda error: print(f"browser page error: {error.error}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql", (
        "the browser tests' server process shares the test database: run them on PostgreSQL (DATABASE_URL)"
    )
    user, host, port = (
        database.get("USER") or "postgres",
        database.get("HOST") or "127.0.0.1",
        database.get("PORT") or 5432,
    )
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"


class WizardServer:
    """``manage.py runserver`` on the test database, on a port that survives restarts."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log = tempfile.NamedTemporaryFile(prefix="wizard-server-", suffix=".log", delete=False)
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.browser_server_settings",
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("REDIS_URL", None)  # Celery in-process: a completion is ingested by the server itself

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{self.port}"],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the wizard server exited:\n{self.output()}"
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the wizard server did not answer within {START_TIMEOUT} s:\n{self.output()}")

    def kill(self) -> None:
        """Stop it the hard way: no goodbye, the port refuses connections until start()."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-5000:]


@pytest.fixture(scope="session")
def wizard_server(django_db_setup):
    """The site in its own process on the test database (killable, restartable on the same port)."""
    server = WizardServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()
        os.unlink(server.log.name)


def fail_next(
    page,
    url_glob: str,
    *,
    times: int,
    method: str = "PATCH",
    action: str | None = None,
    status: int = 503,
    after_server=False,
    headers: dict | None = None,
):
    """Answer the next ``times`` ``method`` requests to ``url_glob`` with ``status``; return the count.

    ``action`` limits it to JSON bodies with that ``action`` (autosave's drafts pass through).
    With ``after_server`` the request still reaches the server (and may commit) and only its
    answer is replaced: a response lost on the way back. ``sent_at`` collects when each matching
    request left the page (failed or not), to check the backoff.
    """
    failed = {"count": 0, "sent_at": []}

    def handle(route):
        request = route.request
        wanted = action is None or (request.post_data_json or {}).get("action", "save") == action
        if request.method != method or not wanted:
            return route.fallback()
        failed["sent_at"].append(time.monotonic())
        if failed["count"] >= times:
            return route.fallback()
        failed["count"] += 1
        if after_server:
            route.fetch()
        route.fulfill(
            status=status, content_type="text/html", body="<h1>Service unavailable</h1>", headers=headers or {}
        )

    page.route(url_glob, handle)
    return failed


def record_sync_states(page) -> list[str]:
    """Collect every state the status element takes on the current page ("state: words"), as it happens.

    Observation only (a MutationObserver reporting to the test): a state shown for a moment is
    not missed between two polls of an ``expect``.
    """
    states = []
    page.expose_function("recordSyncState", lambda state: states.append(state))
    page.evaluate("""() => {
        const status = document.querySelector("[data-sync-state]");
        const text = status.querySelector("[data-sync-text]");
        new MutationObserver(() => window.recordSyncState(`${status.dataset.syncState}: ${text.textContent}`))
            .observe(status, {attributes: true, attributeFilter: ["data-sync-state"], childList: true, subtree: true});
    }""")
    return states


def wait_for(condition, *, timeout=10.0, message="condition", page=None):
    """Poll ``condition`` (e.g. a database query) until it is truthy; fail after ``timeout`` seconds.

    With ``page``, wait between polls through Playwright, so the test's route handlers and exposed
    functions keep running meanwhile (the sync API runs them only while the test is in a call).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def enhanced(page) -> None:
    """Wait until the browser client runs on this page (its status element shows), before using it.

    Module scripts are deferred: a click before they start posts the form the no-JavaScript way,
    which works, but is not what a test of the client means to drive.
    """
    page.locator("[data-sync-state]:not([hidden])").wait_for()


def fill_work_profile(page) -> None:
    """Answer the work-profile step as a user would (valid answers, every required field)."""
    page.get_by_label("2-10").check()
    page.get_by_label("Timezone").fill("Europe/Berlin")  # typed (a datalist offers the zones)
    page.get_by_role("group", name="Functions").get_by_label("Engineering").check()
    page.get_by_label("Roadmapping").check()
    page.get_by_label("Intermediate").check()


def log_in(page, server, username, password=PASSWORD, *, next_path=""):
    page.goto(f"{server.url}/accounts/login/{next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def persistent_browser(tmp_path):
    """Open Chromium on one profile directory, as often as the test asks: a browser restart.

    Each call closes nothing: the test closes the context it got (quitting the browser), then calls
    again to start it on the same directory, with its cookies, IndexedDB and service worker.
    """
    assert os.path.exists(CHROMIUM), f"Chromium is missing at {CHROMIUM}; run `make chromium`"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        opened = []

        def open_browser():
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            _configure_context(context)
            opened.append(context)
            return context, context.pages[0] if context.pages else context.new_page()

        try:
            yield open_browser
        finally:
            for context in opened:
                context.close()  # a no-op for one the test closed already
            connections.close_all()


WRITE_URLS = ("**/api/users/me/onboarding-progress", "**/api/onboarding/complete")


class WritesFailing:
    """The site's save routes failing at the network layer while its pages still load.

    Every write (PATCH progress, POST complete) from any page or service worker of ``context``
    gets ``status`` (a 5xx page, as a proxy in front of a sick server answers), or with
    ``status=None`` no answer at all: the handler neither fulfils nor continues the request, as a
    server that took the connection and hung, until the client's own timeout gives up on it.
    Reads pass through. ``requests`` counts the writes that met the failure.
    """

    def __init__(self, context, *, status: int | None):
        self.context = context
        self.status = status
        self.requests = 0
        self.hanging = []
        for url in WRITE_URLS:
            context.route(url, self._handle)

    def _handle(self, route):
        if route.request.method == "GET":
            return route.fallback()
        self.requests += 1
        if self.status is None:
            self.hanging.append(route)  # neither fulfilled nor continued: it hangs until the page aborts it
            return None
        return route.fulfill(status=self.status, content_type="text/html", body=f"<h1>Error {self.status}</h1>")

    def end(self) -> float:
        """Let writes reach the server again; return when (``time.time()``).

        A request still hanging is dropped (connection reset), never delivered late: removing the
        route alone would let Playwright send it on to the server.
        """
        from playwright.sync_api import Error

        for route in self.hanging:
            try:
                route.abort("connectionreset")
            except Error:
                pass  # the page gave up on it already
        for url in WRITE_URLS:
            self.context.unroute(url, self._handle)
        return time.time()


def watch_sync_states(context) -> list[dict]:
    """Record what the status element shows on every page of ``context``, across navigations and reloads.

    Each entry: ``{"at": the page's clock in ms since the epoch, "path", "state", "words"}``, taken
    whenever the element is visible and its state or words change, also when it first shows. A
    state shown for a moment is not missed; an element hidden (before the client starts, or by a
    style) shows nothing to the user and is not recorded. Observation only: nothing of the page changes.
    """
    states = []
    context.expose_binding("recordShownSyncState", lambda source, entry: states.append(entry))
    context.add_init_script("""(() => {
        const watch = (status) => {
            let last = null;
            const report = () => {
                if (!status.isConnected || status.hidden || !status.checkVisibility()) return;
                const words = (status.querySelector("[data-sync-text]") ?? status).textContent.trim();
                const shown = `${status.dataset.syncState}: ${words}`;
                if (shown === last) return;
                last = shown;
                window.recordShownSyncState({at: Date.now(), path: location.pathname, state: status.dataset.syncState, words});
            };
            new MutationObserver(report).observe(status, {attributes: true, childList: true, subtree: true, characterData: true});
            report();
        };
        const find = () => document.querySelector("[data-sync-state]");
        if (find()) return watch(find());
        const seek = new MutationObserver(() => {
            if (find()) {
                seek.disconnect();
                watch(find());
            }
        });
        seek.observe(document, {childList: true, subtree: true});
    })()""")
    return states
