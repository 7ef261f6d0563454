"""Throttles: authenticated writes per user, token requests per client address."""

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import SimpleRateThrottle

from ..brute_force import client_address


class AuthenticatedWriteThrottle(SimpleRateThrottle):
    """Limit an authenticated user's writes (PATCH/POST/PUT/DELETE) to API_WRITE_THROTTLE_RATE."""

    scope = "api_write"

    def get_rate(self):
        # Read at request time (not import time) so the environment and override_settings apply.
        return settings.API_WRITE_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenRequestThrottle(SimpleRateThrottle):
    """Limit token obtain/refresh requests per client address to API_TOKEN_THROTTLE_RATE."""

    scope = "api_token"

    def get_rate(self):
        return settings.API_TOKEN_THROTTLE_RATE

    def get_cache_key(self, request, view):
        # Not DRF's get_ident: the address comes from X-Forwarded-For only as far as the trusted proxies go.
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class BrowserEventThrottle(SimpleRateThrottle):
    """Limit a user's browser telemetry to API_BROWSER_EVENT_THROTTLE_RATE (apart from their writes)."""

    scope = "api_browser_events"

    def get_rate(self):
        return settings.API_BROWSER_EVENT_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
