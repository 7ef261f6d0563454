"""Brute-force defences: the client's address, the lock-out answer (django-axes), the sign-up throttle.

django-axes counts failed logins per username and per client address on every surface that calls
``authenticate(request, ...)`` (the login page, the admin login, the token endpoint) and refuses a
locked-out account or address before the password is checked. This module tells it who the client
is and how to say no.
"""

import math
from functools import wraps

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from ipware import get_client_ip
from rest_framework.throttling import SimpleRateThrottle

LOCKED_OUT_MESSAGE = _("Too many failed login attempts. Try again later.")
SIGNUP_THROTTLED_MESSAGE = _("Too many sign-ups from your network. Try again later.")


def client_address(request) -> str:
    """Return the client's IP address, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT.

    Each trusted proxy appends the address it received the request from, so the entry that many
    places from the end is the one the outermost trusted proxy saw; anything before it is
    whatever the client chose to send. In django-ipware's terms the client is followed by
    TRUSTED_PROXY_COUNT - 1 proxies in the header (the innermost one is REMOTE_ADDR). With no
    trusted proxy, or no usable entry at that place, REMOTE_ADDR (the peer we can see) is the client.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    address, _routable = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=proxies - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,  # entries the client put before the ones the proxies appended are allowed, and ignored
    )
    return address or remote


def retry_after_seconds(request) -> int:
    """Return how long a locked-out client waits (the lock-out window), in whole seconds."""
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds()) if cool_off else 0


def lockout_response(request, original_response=None, credentials=None):
    """Answer a locked-out login with 429: the JSON error body under /api/, else a page that says so."""
    retry_after = retry_after_seconds(request)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if request.path.startswith("/api/"):
        body = {"detail": LOCKED_OUT_MESSAGE, "code": "locked_out", "retry_after": retry_after or None}
        return JsonResponse(body, status=429, headers=headers)
    return too_many_attempts_page(request, LOCKED_OUT_MESSAGE, retry_after, headers=headers)


def too_many_attempts_page(request, message: str, retry_after: int, *, headers=None):
    context = {"message": message, "retry_after_minutes": math.ceil(retry_after / 60) if retry_after else None}
    response = render(request, "registration/too_many_attempts.html", context, status=429)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class SignupThrottle(SimpleRateThrottle):
    """Limit sign-up submissions per client address to ACCOUNT_SIGNUP_THROTTLE_RATE."""

    scope = "account_signup"

    def get_rate(self):
        return settings.ACCOUNT_SIGNUP_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


def signup_throttled(view):
    """Wrap the sign-up view: beyond the rate, a 429 page instead of another account."""

    @wraps(view)
    def throttled_view(request, *args, **kwargs):
        throttle = SignupThrottle()
        if throttle.allow_request(request, None):
            return view(request, *args, **kwargs)
        retry_after = math.ceil(throttle.wait() or 0)
        return too_many_attempts_page(
            request, SIGNUP_THROTTLED_MESSAGE, retry_after, headers={"Retry-After": str(retry_after)}
        )

    return throttled_view
