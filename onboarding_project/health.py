"""Liveness and readiness probes: ``GET /healthz`` and ``GET /readyz``.

They are answered by a middleware placed before every other one but the request id: probes come
from a load balancer or an orchestrator straight to the process, over plain HTTP and by IP
address, so neither the HTTPS redirect nor the ALLOWED_HOSTS check may stand in their way, and
nothing else (sessions, authentication, the onboarding guard) is worth running for them.
Both are cheap enough to poll every few seconds and are never cached.
"""

import logging
import threading
import time
from importlib import import_module

import redis
from django.conf import settings
from django.contrib import auth
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from rest_framework.request import Request

from onboarding.api.authentication import JWTAuthentication
from onboarding.services.outbox import outbox_oldest_pending_at

from .cache import outages

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 1  # seconds: a probe must answer well within the prober's own timeout
_broker_clients: dict[str, redis.Redis] = {}


def healthz(request) -> JsonResponse:
    """Answer 200 while the process serves requests; no dependency is checked."""
    return _never_cached(JsonResponse({"status": "ok"}))


def readyz(request) -> JsonResponse:
    """Answer 200 when the database, the broker (if configured) and the outbox are fine, else 503.

    Anybody gets ``ok``/``fail`` per check; staff (a session or a bearer token) also get each
    failure's text, the outbox's age and the cache's fail-open figures, which are always logged.
    Every check runs on its own thread and the answer waits READYZ_TIMEOUT seconds at most: a
    check not done by then fails with "timed out" (its thread ends by its own timeouts).
    """
    checks = _run_checks(settings.READYZ_TIMEOUT)
    ready = all(check["status"] == "ok" for check in checks.values())
    body = {"status": "ok" if ready else "unavailable"}
    if checks["database"]["status"] == "ok" and _caller_is_staff(request):
        body.update(checks=checks, cache=outages.snapshot())
    else:
        body["checks"] = {name: {"status": check["status"]} for name, check in checks.items()}
    return _never_cached(JsonResponse(body, status=200 if ready else 503))


def _run_checks(timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    results: dict[str, dict] = {}
    groups = [("database", "outbox")]  # the outbox is read from the database: after it, on its thread
    if settings.REDIS_URL:
        groups.append(("broker",))
    threads = [threading.Thread(target=_run_group, args=(group, results), daemon=True) for group in groups]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    names = [name for group in groups for name in group]
    for name in names:
        if name not in results:
            logger.warning("readiness check %s failed: timed out after %s s", name, timeout)
            results[name] = {"status": "fail", "error": f"timed out after {timeout} s"}
    return {name: dict(results[name]) for name in names}


def _run_group(names, results: dict) -> None:
    try:
        for name in names:
            if name == "outbox" and results.get("database", {}).get("status") != "ok":
                results[name] = {"status": "fail", "error": "the database is unavailable"}
                continue
            results[name] = _check(name, PROBE_CHECKS[name])
    finally:
        connection.close()  # this thread's own connection (back to the pool, if any)


def _check(name: str, probe) -> dict:
    try:
        return {"status": "ok", **probe()}
    except Exception as exc:  # a probe reports a failure, it never raises one
        logger.warning("readiness check %s failed: %s", name, exc)
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}


def _caller_is_staff(request) -> bool:
    """Return whether the session cookie or the bearer token is an active staff member's."""
    try:
        user = _session_user(request) or _token_user(request)
    except Exception:  # a bad cookie or token is an anonymous caller here
        return False
    return bool(user and user.is_active and user.is_staff)


def _session_user(request):
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(request)
    return user if user.is_authenticated else None


def _token_user(request):
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return None
    authenticated = JWTAuthentication().authenticate(Request(request))
    return authenticated[0] if authenticated else None


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def _broker() -> dict:
    client = _broker_clients.get(settings.REDIS_URL)
    if client is None:  # one client (and its connection pool) per URL, reused by every probe
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT
        )
        _broker_clients[settings.REDIS_URL] = client
    client.ping()
    return {}


def _outbox() -> dict:
    oldest = outbox_oldest_pending_at()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    limit = settings.ONBOARDING_OUTBOX_ALERT_AFTER
    if age > limit:
        raise OutboxBacklog(f"the oldest pending message is {age:.0f} s old (more than {limit} s)")
    return {"oldest_pending_seconds": round(age)}


class OutboxBacklog(RuntimeError):
    """Completion messages wait longer than ONBOARDING_OUTBOX_ALERT_AFTER: workers or the broker lag."""


def _never_cached(response):
    add_never_cache_headers(response)
    return response


PROBE_CHECKS = {"database": _database, "broker": _broker, "outbox": _outbox}
PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answer the probes before any other middleware (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
