"""The shared cache on Redis, failing open: a hung or dead Redis costs a request about a second, never a 500.

Only counters live in this cache (the API throttles and the login lock-out counts): losing them
for a while lets a few more requests through, which is better than refusing every login and every
API write. So every cache operation that meets a Redis error is answered with what an empty cache
would answer (a miss, a fresh counter), the error is logged and counted, and the cache stays
"open" (skipped, answering at once) for ``CACHE_RETRY_AFTER`` seconds before Redis is tried
again: one request pays the timeout, the ones after it do not. The counts are per process and
shown to staff on ``/readyz``.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class CacheOutageLog:
    """This process's record of Redis failures met by the cache: how many, the last, and the open window."""

    def __init__(self):
        self._lock = threading.Lock()
        self.fallbacks = 0
        self.last_error = ""
        self.last_failure_at = None  # wall clock, for people
        self.open_until = 0.0  # skip Redis until then (time.time(): one clock for people and code)

    def is_open(self) -> bool:
        return time.time() < self.open_until

    def record(self, operation: str, exc: Exception | None) -> None:
        """Count one answer given without Redis; on a new error, open the cache for a while and log it."""
        with self._lock:
            self.fallbacks += 1
            if exc is None:  # skipped while open: counted, already logged
                return
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.last_failure_at = time.time()
            self.open_until = self.last_failure_at + settings.CACHE_RETRY_AFTER
        logger.error(
            "cache: Redis failed on %s (%s); throttles and lock-out counts fail open for %s s",
            operation,
            self.last_error,
            settings.CACHE_RETRY_AFTER,
        )

    def snapshot(self) -> dict:
        """Return the figures staff see on /readyz."""
        return {
            "fallbacks": self.fallbacks,
            "failing_open": self.is_open(),
            "last_error": self.last_error or None,
            "last_failure_at": self.last_failure_at,
        }


outages = CacheOutageLog()


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache whose every operation fails open (see the module docstring)."""

    def _guarded(self, operation: str, fallback, call, *args, **kwargs):
        if outages.is_open():
            outages.record(operation, None)
            return fallback
        try:
            return call(*args, **kwargs)
        except RedisError as exc:
            outages.record(operation, exc)
            return fallback

    def get(self, key, default=None, version=None):
        return self._guarded("get", default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._guarded("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._guarded("has_key", False, super().has_key, key, version)

    def set(self, *args, **kwargs):
        return self._guarded("set", None, super().set, *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._guarded("set_many", [], super().set_many, *args, **kwargs)

    def add(self, *args, **kwargs):
        return self._guarded("add", True, super().add, *args, **kwargs)  # "added": the caller counts from 1

    def incr(self, key, delta=1, version=None):
        return self._guarded("incr", delta, super().incr, key, delta, version)

    def touch(self, *args, **kwargs):
        return self._guarded("touch", False, super().touch, *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._guarded("delete", False, super().delete, *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._guarded("delete_many", None, super().delete_many, *args, **kwargs)

    def clear(self):
        return self._guarded("clear", False, super().clear)
