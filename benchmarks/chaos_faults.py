"""The chaos run's failures, injected at the network layer (Playwright routes), never in page code.

- ``Injector``: a route on the whole browser context (the page's requests and its service
  worker's) that fails about ``rate`` of the API and page requests: a 503, a refused or reset
  connection, an answer lost after the server committed (writes only), or a hung request that
  never answers until the client gives up (the page's own ``fetch`` calls only: a navigation has
  no timeout a page controls). Static files and the service worker's script pass untouched.
- ``OfflineSpell``: ``context.set_offline(True)`` for a few seconds.
- ``ServerRestart``: gunicorn killed (SIGKILL) and started again on the same port, from a thread,
  while the journey goes on.

Every failure records the moment it stopped (``FailureLog``): the 503 or the abort sent, the hung
request given up, the spell over, the restarted server answering. From then on the server is
reachable again, and the journey's recovery is measured from the last such moment.
"""

import threading
import time
from collections import Counter
from urllib.parse import urlsplit

# How often each kind is drawn for a request it applies to.
KIND_WEIGHTS = {"503": 30, "connectionreset": 20, "connectionrefused": 15, "answer-lost": 15, "hung": 20}
# A hung request the client never gives up is let go (aborted as timed out) after this long, so
# the run stays bounded; how many needed it is reported.
HANG_CAP_SECONDS = 30.0


class FailureLog:
    """When each injected failure stopped, by kind; shared by the journey's thread and the restart thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ends: list[tuple[float, str]] = []

    def ended(self, kind: str, at: float | None = None) -> None:
        with self.lock:
            self.ends.append((time.monotonic() if at is None else at, kind))

    def ends_between(self, start: float, end: float) -> list[tuple[float, str]]:
        with self.lock:
            return [(at, kind) for at, kind in self.ends if start < at <= end]

    def counts(self, start: float = 0.0, end: float = float("inf")) -> Counter:
        with self.lock:
            return Counter(kind for at, kind in self.ends if start <= at <= end)


class Injector:
    """A context route failing about ``rate`` of the API and page requests to ``origin``."""

    def __init__(self, *, origin: str, rate: float, rng, log: FailureLog):
        self.host = urlsplit(origin).netloc
        self.rate, self.rng, self.log = rate, rng, log
        self.enabled = False
        self.eligible = Counter()  # requests the injector could have failed, by "api" / "page"
        self.injected = Counter()  # ... and did, by kind
        self.hung = {}  # request -> (route, started)
        self.released = 0  # hung requests the client never gave up

    def attach(self, context) -> None:
        context.route("**/*", self.handle)
        context.on("requestfailed", self.request_failed)

    def handle(self, route) -> None:
        request = route.request
        target = self.target(request)
        if not self.enabled or target is None:
            return route.fallback()
        self.eligible[target] += 1
        if self.rng.random() >= self.rate:
            return route.fallback()
        kind = self.draw(request)
        self.injected[kind] += 1
        if kind == "hung":
            self.hung[request] = (route, time.monotonic())
            return None  # never answered: the client's own timeout ends it (request_failed)
        if kind == "503":
            route.fulfill(status=503, content_type="text/html", body="<h1>Service unavailable</h1>")
        elif kind == "answer-lost":
            route.fetch()  # the server gets it and commits; its answer never reaches the page
            route.abort("connectionreset")
        else:
            route.abort(kind)
        self.log.ended(kind)
        return None

    def target(self, request) -> str | None:
        """ "api" or "page" for a request this injector may fail, None for one it leaves alone."""
        url = urlsplit(request.url)
        if url.netloc != self.host or url.path.startswith("/static/") or url.path.endswith("/sw.js"):
            return None
        if url.path.startswith("/api/"):
            return "api"
        if request.is_navigation_request() or url.path.startswith(("/o/", "/dashboard/")):
            return "page"
        return None  # the account pages: a login is not what this run is about

    def draw(self, request) -> str:
        page_fetch = request.resource_type == "fetch" and not request.service_worker
        kinds = {
            kind: weight
            for kind, weight in KIND_WEIGHTS.items()
            if (kind != "hung" or page_fetch) and (kind != "answer-lost" or request.method in ("PATCH", "POST"))
        }
        return self.rng.choices(list(kinds), weights=list(kinds.values()))[0]

    def request_failed(self, request) -> None:
        hung = self.hung.pop(request, None)
        if hung is not None:
            self.log.ended("hung")  # the client gave up: from now on its next try gets through
            settle_route(hung[0])

    def tick(self, now: float | None = None) -> None:
        """Let go of hung requests the client has kept waiting longer than the cap."""
        now = time.monotonic() if now is None else now
        for request, (route, started) in list(self.hung.items()):
            if now - started >= HANG_CAP_SECONDS:
                self.release(request, route)

    def release(self, request, route) -> None:
        self.hung.pop(request, None)
        self.released += 1
        settle_route(route, "timedout")
        self.log.ended("hung")

    def stop(self) -> None:
        """No more failures; let go of whatever still hangs."""
        self.enabled = False
        for request, (route, _started) in list(self.hung.items()):
            self.release(request, route)


def settle_route(route, error: str = "aborted") -> None:
    """Answer a hung route (its request may be gone already), so Playwright stops waiting on its handler."""
    try:
        route.abort(error)
    except Exception:  # noqa: BLE001 - the page or its request is gone: nothing to answer
        pass


class OfflineSpell:
    """The browser context offline for ``seconds`` (ended by ``tick`` once they are over)."""

    def __init__(self, context, seconds: float, log: FailureLog):
        self.context, self.log = context, log
        self.started = time.monotonic()
        self.ends_at = self.started + seconds
        context.set_offline(True)
        self.over = False

    def tick(self, now: float | None = None) -> bool:
        """End the spell if its time is up (or ``now`` is None: at once); return whether it is over."""
        if not self.over and (now is None or now >= self.ends_at):
            self.context.set_offline(False)
            self.log.ended("offline")
            self.over = True
        return self.over


class ServerRestart(threading.Thread):
    """Kill the web process, wait ``downtime`` seconds, start it on the same port and wait until it answers."""

    def __init__(self, web, downtime: float, log: FailureLog):
        super().__init__(name="server-restart", daemon=True)
        self.web, self.downtime, self.log = web, downtime, log
        self.killed_at = self.answering_at = None
        self.error = None

    def run(self) -> None:
        try:
            self.web.kill()
            self.killed_at = time.monotonic()
            time.sleep(self.downtime)
            self.web.start()
            self.answering_at = time.monotonic()
            self.log.ended("restart", self.answering_at)
        except BaseException as error:  # noqa: BLE001 - reported by the run, which stops
            self.error = error
