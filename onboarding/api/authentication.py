"""Authentication for the JSON API: the bearer token (simplejwt) first, then the Django session."""
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings


class TokenBearer:
    """The bearer of a valid access token, known by the user id in it; no user row has been read.

    Only the write endpoints see one: their service reads the user together with the locked
    session (one query fewer per write) and refuses an inactive or deleted account. It has no
    other user attributes, so code that would need the real user fails loudly instead.
    """

    is_authenticated, is_anonymous = True, False

    def __init__(self, user_id):
        self.pk = self.id = user_id

    def __str__(self) -> str:
        return f"user {self.pk} (bearer token)"


class WriteBearerAuthentication(JWTAuthentication):
    """simplejwt's bearer token, its user read later by the write service (see TokenBearer)."""

    def get_user(self, validated_token) -> TokenBearer:
        try:
            return TokenBearer(validated_token[api_settings.USER_ID_CLAIM])
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc


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
