"""Password hashing that gives way to interactive requests.

A login or sign-up hashes a password (PBKDF2, 1,000,000 iterations: about a third of a second of
CPU here); two at once take both cores of a small machine, and a save that arrives meanwhile
waits for a core (benchmarks/README.md, "load/run.py"). This hasher runs the same hash, in the
same format (``pbkdf2_sha256$…``, interchangeable with Django's PBKDF2PasswordHasher), on a few
threads of the process whose scheduling priority is lowered (``PASSWORD_HASHING_NICE``): the
kernel then runs the saves first and the hashing with the CPU left over. ``hashlib`` releases
the GIL while it hashes, so the other request threads run meanwhile; the request that logs in
waits for its hash as before.

Linux lowers the priority of one thread (setpriority on its thread id); elsewhere the threads run
at normal priority, which is the plain hasher's behaviour.
"""

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

logger = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), settings.PASSWORD_HASHING_NICE)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: hash at normal priority
        logger.info("password hashing runs at normal priority: %s", exc)


def _hashing_pool() -> ThreadPoolExecutor:
    """Return this process's hashing threads (a forked child, e.g. a gunicorn worker, makes its own)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(
                max_workers=settings.PASSWORD_HASHING_THREADS,
                thread_name_prefix="password-hashing",
                initializer=_lower_priority,
            )
            _pool_pid = os.getpid()
        return _pool


class LowPriorityPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 (same algorithm name, same hashes), computed on the low-priority hashing threads."""

    def encode(self, password, salt, iterations=None):
        return _hashing_pool().submit(super().encode, password, salt, iterations).result()
