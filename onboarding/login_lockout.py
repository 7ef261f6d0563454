"""Login lock-outs (a django-axes handler) that an outsider cannot turn against somebody else.

Failed logins are counted in the default cache under three keys, each with its own limit:

- the account *from one address* (``AXES_FAILURE_LIMIT``, 5): the lock a typing person meets;
- the account from *every* address (``LOGIN_ACCOUNT_FAILURE_LIMIT``, 50): a guesser who spreads
  over many addresses;
- the address across *every* account (``LOGIN_ADDRESS_FAILURE_LIMIT``, 30): one address trying
  many accounts (password spraying), well above what one office's typos add up to.

A login is refused (429, before the password is checked) while any of the three is at its limit.
Refused attempts are not counted, so a lock-out lasts ``AXES_COOLOFF_TIME`` from the failure that
caused it and nobody can stretch it. A right password resets that account's count from that address
(never the account-wide or address-wide ones: an attacker's own account would wipe them).

Lifting: ``lockout_lift_for_account`` (a completed password reset, ``manage.py axes_reset_username``)
and ``axes_reset_ip`` start a new *generation* for that account or address: every pair key of it
changes at once, without listing the addresses (or accounts) it was counted with.
"""

import hashlib
import logging
import time

from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cache, get_cache_timeout, get_client_username, get_failure_limit
from axes.signals import user_locked_out
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "login-lockout"
# How long a lifted generation is remembered. A pair count lives at most about limit x cool-off
# (each failure renews it until the lock, then it runs out), so a week outlives any of them.
GENERATION_TTL = 7 * 24 * 3600


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _generation_keys(username: str, address: str) -> tuple[str, str]:
    return f"{PREFIX}:generation:account:{_digest(username)}", f"{PREFIX}:generation:address:{_digest(address)}"


class LoginCounts:
    """The three counters of one (account, address) and their keys; read with two cache round trips."""

    def __init__(self, cache, username: str, address: str):
        self.cache = cache
        generations = cache.get_many(_generation_keys(username, address))
        account_generation, address_generation = (
            str(generations.get(key, "0")) for key in _generation_keys(username, address)
        )
        self.keys = {
            "pair": f"{PREFIX}:pair:{_digest(username, address, account_generation, address_generation)}",
            "account": f"{PREFIX}:account:{_digest(username)}",
            "address": f"{PREFIX}:address:{_digest(address)}",
        }

    def read(self) -> dict[str, int]:
        values = self.cache.get_many(list(self.keys.values()))
        return {scope: int(values.get(key) or 0) for scope, key in self.keys.items()}

    def add_failure(self, timeout: int | None) -> dict[str, int]:
        counts = {}
        for scope, key in self.keys.items():
            if self.cache.add(key, 1, timeout=timeout):
                counts[scope] = 1
                continue
            try:
                counts[scope] = self.cache.incr(key)
            except ValueError:  # it expired between the two calls: this failure starts it again
                self.cache.add(key, 1, timeout=timeout)
                counts[scope] = 1
                continue
            self.cache.touch(key, timeout=timeout)  # the window runs from the latest failure
        return counts


def lockout_limits(request, credentials) -> dict[str, int]:
    """Return the failure limit of each scope (pair, account, address)."""
    return {
        "pair": get_failure_limit(request, credentials),
        "account": settings.LOGIN_ACCOUNT_FAILURE_LIMIT,
        "address": settings.LOGIN_ADDRESS_FAILURE_LIMIT,
    }


def _locked_scopes(counts: dict[str, int], limits: dict[str, int]) -> list[str]:
    return [scope for scope, count in counts.items() if count >= limits[scope]]


class LoginLockoutHandler(AbstractAxesHandler, AxesBaseHandler):
    """The axes handler of ``AXES_HANDLER`` (see the module docstring)."""

    @property
    def cache(self):
        return get_cache()  # looked up each time: axes keeps one handler for the life of the process

    def _counts(self, request, credentials) -> LoginCounts:
        username = get_client_username(request, credentials) or ""
        return LoginCounts(self.cache, str(username), str(request.axes_ip_address or ""))

    def get_failures(self, request, credentials=None) -> int:
        """Return the failures of this account from this address (the scope a person meets)."""
        return self._counts(request, credentials).read()["pair"]

    def is_locked(self, request, credentials=None) -> bool:
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return False
        locked = _locked_scopes(self._counts(request, credentials).read(), lockout_limits(request, credentials))
        if locked:
            logger.warning("login refused during a lock-out (%s) from %s", ", ".join(locked), request.axes_ip_address)
        return bool(locked)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None:
            return
        username = get_client_username(request, credentials)
        if getattr(request, "axes_locked_out", False):  # refused during a lock-out: not counted, not extended
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=username, ip_address=request.axes_ip_address)
            return
        if self.is_whitelisted(request, credentials):
            return
        counts = self._counts(request, credentials).add_failure(get_cache_timeout(request))
        request.axes_failures_since_start = counts["pair"]
        logger.warning(
            "failed login from %s: %s from this address, %s for the account, %s from the address",
            request.axes_ip_address,
            counts["pair"],
            counts["account"],
            counts["address"],
        )
        locked = _locked_scopes(counts, lockout_limits(request, credentials))
        if settings.AXES_LOCK_OUT_AT_FAILURE and locked:
            logger.warning("locking out (%s) from %s", ", ".join(locked), request.axes_ip_address)
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=username, ip_address=request.axes_ip_address)

    def user_logged_in(self, sender, request, user, **kwargs):
        # Only this account's count from this address: the account-wide and address-wide counts stay,
        # or logging into one's own account between guesses would wipe them.
        address = getattr(request, "axes_ip_address", None)
        if address is not None:
            counts = LoginCounts(self.cache, user.get_username(), str(address))
            self.cache.delete(counts.keys["pair"])

    def user_logged_out(self, sender, request, user, **kwargs):
        pass

    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False) -> int:
        """Lift every lock-out of ``username`` and/or ``ip_address`` (the axes_reset_* commands)."""
        lifted = 0
        account_generation_key, address_generation_key = _generation_keys(str(username or ""), str(ip_address or ""))
        if username is not None:
            self.cache.set(account_generation_key, str(time.time_ns()), timeout=GENERATION_TTL)
            lifted += int(bool(self.cache.delete(f"{PREFIX}:account:{_digest(str(username))}"))) + 1
        if ip_address is not None:
            self.cache.set(address_generation_key, str(time.time_ns()), timeout=GENERATION_TTL)
            lifted += int(bool(self.cache.delete(f"{PREFIX}:address:{_digest(str(ip_address))}"))) + 1
        return lifted


def lockout_lift_for_account(*, username: str) -> None:
    """Lift every lock-out of this account, from every address (after a completed password reset)."""
    AxesProxyHandler.reset_attempts(username=username)
    logger.info("login lock-outs of an account lifted after a password reset")
