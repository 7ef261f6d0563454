"""Authentication for the JSON API: the bearer token (simplejwt) first, then the Django session."""
from django.conf import settings
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework_simplejwt import authentication as simplejwt_authentication

from .tokens import TokenRevoked, token_revoked


class JWTAuthentication(simplejwt_authentication.JWTAuthentication):
    """simplejwt's bearer token, for every endpoint; the token's user is read, must be active, and
    must not have changed their password since the token was issued (``token_revoked``).

    A deleted account answers like a deactivated one (``user_inactive``): for the client both mean
    the same thing, this account can no longer be used.
    """

    def get_user(self, validated_token):
        try:
            user = super().get_user(validated_token)
        except exceptions.AuthenticationFailed as exc:
            detail = exc.detail  # simplejwt's errors carry {"detail", "code"}
            if isinstance(detail, dict) and detail.get("code") == "user_not_found":
                raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive") from exc
            raise
        if token_revoked(validated_token, user):  # the password changed since: no extra query
            raise TokenRevoked()
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """Describe the bearer scheme in the OpenAPI schema as drf-spectacular does for simplejwt's own class."""

    target_class = JWTAuthentication


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
