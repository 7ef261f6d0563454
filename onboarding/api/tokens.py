"""Bearer tokens (simplejwt): token classes that refuse a malformed user id, and the obtain/refresh serializers.

Wired through ``SIMPLE_JWT`` (``AUTH_TOKEN_CLASSES``, ``TOKEN_OBTAIN_SERIALIZER``,
``TOKEN_REFRESH_SERIALIZER``), so every reader of a token — the authentication classes and the
token endpoints — gets the same checks.
"""
import re

from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import tokens as jwt_tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from ..brute_force import LOCKED_OUT_MESSAGE, retry_after_seconds


USER_ID_DIGITS = re.compile(r"[0-9]{1,18}")  # simplejwt writes the id as a string of digits


class ClaimTypesMixin:
    """Refuse a signed token whose claims do not have the types simplejwt gives them.

    A token signed with our key is still input: a user id that is not an integer, a ``jti`` that is
    not a string (it is looked up in the blacklist) or an ``exp`` past the calendar reached a 500.
    """

    def verify(self):
        try:
            super().verify()
        except (OverflowError, OSError, ValueError, TypeError) as exc:  # exp/iat past what datetime holds
            raise TokenError("Token has an impossible time claim") from exc
        if not isinstance(self.payload.get(api_settings.JTI_CLAIM), str):
            raise TokenError("Token has no valid id")
        user_id = self.payload.get(api_settings.USER_ID_CLAIM)
        if isinstance(user_id, bool) or not (
            (isinstance(user_id, int) and 0 < user_id < 2**63)
            or (isinstance(user_id, str) and USER_ID_DIGITS.fullmatch(user_id))
        ):
            raise TokenError("Token contained no recognizable user identification")


class AccessToken(ClaimTypesMixin, jwt_tokens.AccessToken):
    pass


class RefreshToken(ClaimTypesMixin, jwt_tokens.RefreshToken):
    access_token_class = AccessToken


class LockedOut(exceptions.Throttled):
    """Too many failed logins for this account or from this address (django-axes): 429."""

    default_detail = LOCKED_OUT_MESSAGE
    default_code = "locked_out"

    def __init__(self, wait=None):
        super().__init__(wait=wait, detail=LOCKED_OUT_MESSAGE, code=self.default_code)


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    """Username and password to tokens; a locked-out account or address gets 429, whatever the password."""

    token_class = RefreshToken

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except exceptions.AuthenticationFailed:
            request = self.context.get("request")
            # Set by django-axes on the request it was given, when it refused or locked the login.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=retry_after_seconds(request)) from None
            raise


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """A refresh token to a new access token; one whose user is gone is a 401, not a 500."""

    token_class = RefreshToken

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:  # simplejwt reads the user with .get()
            raise exceptions.AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None
