"""Authentication for the JSON API: the bearer token (simplejwt) first, then the Django session."""
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions


class SessionAuthentication(authentication.SessionAuthentication):
    """Django session auth whose CSRF failure carries the code ``csrf_failed`` (still 403)."""

    def enforce_csrf(self, request):
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc.detail), code="csrf_failed") from exc


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe the session scheme in the OpenAPI schema as DRF's own session auth is."""

    target_class = SessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
