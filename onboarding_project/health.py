"""Liveness and readiness probes (CONTRACT §8): ``GET /healthz`` and ``GET /readyz``.

They are answered by a middleware placed before every other one but the request id: probes come
from a load balancer or an orchestrator straight to the process, over plain HTTP and by IP
address, so neither the HTTPS redirect nor the ALLOWED_HOSTS check may stand in their way, and
nothing else (sessions, authentication, the onboarding guard) is worth running for them.
Both are cheap enough to poll every few seconds and are never cached.
"""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from onboarding.services.outbox import outbox_oldest_pending_at

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 1  # seconds: a probe must answer well within the prober's own timeout
_broker_clients: dict[str, redis.Redis] = {}


def healthz(request) -> JsonResponse:
    """Answer 200 while the process serves requests; no dependency is checked."""
    return _never_cached(JsonResponse({"status": "ok"}))


def readyz(request) -> JsonResponse:
    """Answer 200 when the database, the broker (if configured) and the outbox are fine, else 503."""
    checks = {"database": _check(_database)}
    if settings.REDIS_URL:
        checks["broker"] = _check(_broker)
    checks["outbox"] = (
        _check(_outbox)
        if checks["database"]["status"] == "ok"
        else {"status": "fail", "error": "the database is unavailable"}
    )
    ready = all(check["status"] == "ok" for check in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return _never_cached(JsonResponse(body, status=200 if ready else 503))


def _check(probe) -> dict:
    try:
        return {"status": "ok", **probe()}
    except Exception as exc:  # a probe reports a failure, it never raises one
        logger.warning("readiness check %s failed: %s", probe.__name__.strip("_"), exc)
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}


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
