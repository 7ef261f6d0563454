"""Authentication for the JSON API: the bearer token (simplejwt) first, then the Django session."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject, empty
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework_simplejwt import authentication as simplejwt_authentication
from rest_framework_simplejwt.settings import api_settings

from .tokens import TokenRevoked, token_revoked


class JWTAuthentication(simplejwt_authentication.JWTAuthentication):
    """simplejwt's bearer token, for every endpoint; the token's user must exist, be active, and not
    have changed their password since the token was issued (``token_revoked``).

    A deleted account answers like a deactivated one (``user_inactive``): for the client both mean
    the same thing, this account can no longer be used. On a view that ``joins_token_user`` the user
    is not read here (``TokenUser``): the session write's locked read joins it instead.
    """

    view = None  # the view being authenticated (set by authenticate); none: read the user at once

    def get_user(self, validated_token):
        if getattr(self.view, "joins_token_user", False):
            return TokenUser(validated_token, self)
        return self.load_user(validated_token)

    def authenticate(self, request):
        self.view = request.parser_context.get("view") if request.parser_context else None
        return super().authenticate(request)

    def load_user(self, validated_token):
        """Read the token's user and check it (simplejwt's query; ``user_not_found`` becomes ``user_inactive``)."""
        try:
            user = super().get_user(validated_token)
        except exceptions.AuthenticationFailed as exc:
            detail = exc.detail  # simplejwt's errors carry {"detail", "code"}
            if isinstance(detail, dict) and detail.get("code") == "user_not_found":
                raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive") from exc
            raise
        return self.check_user(validated_token, user)

    @staticmethod
    def check_user(validated_token, user):
        """Return ``user`` if the token may act for it: active, and the password unchanged since (no query)."""
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
        if token_revoked(validated_token, user):
            raise TokenRevoked()
        return user


class TokenUser(SimpleLazyObject):
    """The bearer token's user: its id from the token, the row read only when more is needed.

    A session write locks the session joined with its user (``onboarding.services.write_protocol.
    session_lock_live``) and hands the row over (``adopt``), so a PATCH reads no user row of its
    own. Either way the row passes ``JWTAuthentication.check_user`` before anything uses it.
    """

    is_authenticated = True  # a valid token: DRF's IsAuthenticated need not read the row
    is_anonymous = False

    def __init__(self, validated_token, authentication):
        self.__dict__["pk"] = self.__dict__["id"] = int(validated_token[api_settings.USER_ID_CLAIM])
        self.__dict__["_token"] = validated_token
        self.__dict__["_authentication"] = authentication
        super().__init__(lambda: authentication.load_user(validated_token))

    def __bool__(self):
        return True

    @property
    def resolved(self) -> bool:
        return self._wrapped is not empty

    def resolve(self):
        """Read and check the row now unless it is already here; raise AuthenticationFailed if refused."""
        if self._wrapped is empty:
            self._setup()

    def adopt(self, row) -> None:
        """Take the user's row from a query that joined it anyway, checked as if read here."""
        if self._wrapped is empty and row.pk == self.pk:
            self._wrapped = self._authentication.check_user(self._token, row)


class JoinsTokenUser:
    """For a view whose service joins the user in the session's locked read: no user read before it.

    Whatever the view did, its answer leaves only once the token's user is checked: a refused
    token answers 401 even if the view answered before reading the user (a 400 on its input, say).
    """

    joins_token_user = True

    def finalize_response(self, request, response, *args, **kwargs):
        user = getattr(request, "_user", None)
        if isinstance(user, TokenUser) and not user.resolved:
            try:
                user.resolve()
            except exceptions.AuthenticationFailed as exc:
                response = self.handle_exception(exc)
        return super().finalize_response(request, response, *args, **kwargs)


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
