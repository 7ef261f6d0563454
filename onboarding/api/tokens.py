"""Bearer tokens (simplejwt): our token classes, revocation, and the obtain/refresh/logout serializers.

Wired through ``SIMPLE_JWT`` (``AUTH_TOKEN_CLASSES`` and the ``TOKEN_*_SERIALIZER`` settings), so
every reader of a token — the authentication class and the token endpoints — gets the same checks.
Revocation: every token carries a claim derived from the user's session auth hash; the one JWT
authentication class and the refresh serializer compare it with the user they load anyway, so a
password change cuts off every access and refresh token of that user at once, without a query.
Refresh tokens rotate, and a used or logged-out one is blacklisted (simplejwt's blacklist app).
"""

import re

from django.contrib.auth import get_user_model
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework import exceptions
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import tokens as jwt_tokens
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings

from ..brute_force import LOCKED_OUT_MESSAGE, retry_after_seconds
from ..services.tokens import refresh_token_redeem

USER_ID_DIGITS = re.compile(r"[0-9]{1,18}")  # simplejwt writes the id as a string of digits


REVOCATION_CLAIM = "auth"


def token_revocation_claim(user) -> str:
    """Return the value a token of ``user`` carries to stay valid: derived from the session auth hash.

    The session auth hash changes with the password (and so do Django's sessions, which it logs
    out): every token issued before a password change stops matching at once. Derived again with
    its own salt so that the token, which the client can read, does not carry the hash itself.
    """
    return salted_hmac("onboarding.api.tokens.revocation", user.get_session_auth_hash()).hexdigest()[:32]


def token_revoked(token, user) -> bool:
    """Return whether ``token`` was issued to ``user`` before their password last changed."""
    return not constant_time_compare(str(token.get(REVOCATION_CLAIM, "")), token_revocation_claim(user))


class OnboardingTokenMixin:
    """Our tokens: they carry the revocation claim, and refuse claims of the wrong type.

    A token signed with our key is still input: a user id that is not an integer, a ``jti`` that is
    not a string (it is looked up in the blacklist) or an ``exp`` past the calendar reached a 500.
    """

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[REVOCATION_CLAIM] = token_revocation_claim(user)
        return token

    def verify(self):
        if not isinstance(self.payload.get(api_settings.JTI_CLAIM), str):  # before the blacklist looks it up
            raise TokenError("Token has no valid id")
        user_id = self.payload.get(api_settings.USER_ID_CLAIM)
        if isinstance(user_id, bool) or not (
            (isinstance(user_id, int) and 0 < user_id < 2**63)
            or (isinstance(user_id, str) and USER_ID_DIGITS.fullmatch(user_id))
        ):
            raise TokenError("Token contained no recognizable user identification")
        try:
            super().verify()
        except (OverflowError, OSError, ValueError, TypeError) as exc:  # exp/iat past what datetime holds
            raise TokenError("Token has an impossible time claim") from exc


class AccessToken(OnboardingTokenMixin, jwt_tokens.AccessToken):
    pass


class RefreshToken(OnboardingTokenMixin, jwt_tokens.RefreshToken):
    access_token_class = AccessToken


class LockedOut(exceptions.Throttled):
    """Too many failed logins for this account or from this address (django-axes): 429."""

    default_detail = LOCKED_OUT_MESSAGE
    default_code = "locked_out"

    def __init__(self, wait=None):
        super().__init__(wait=wait, detail=str(LOCKED_OUT_MESSAGE), code=self.default_code)


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


class TokenRevoked(exceptions.AuthenticationFailed):
    default_detail = "This token was revoked (the password changed since it was issued): log in again."
    default_code = "token_revoked"


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """A refresh token to a new access token and a new refresh token (the old one is used up, once).

    One whose user is gone or inactive is a 401 ``no_active_account`` (a deleted user was a 500),
    one issued before the password changed a 401 ``token_revoked``, one already used (also by a
    request running at the same moment) a 401 ``token_not_valid``. Rotation and blacklisting are
    always on here (``ROTATE_REFRESH_TOKENS``, ``BLACKLIST_AFTER_ROTATION``).
    """

    token_class = RefreshToken

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])  # signature, expiry, type, blacklist
        user = (
            get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: refresh[api_settings.USER_ID_CLAIM]}).first()
        )
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise exceptions.AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if token_revoked(refresh, user):
            raise TokenRevoked()
        refresh_token_redeem(token=refresh)  # the one check that holds when the same token arrives in parallel
        data = {"access": str(refresh.access_token)}
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
        return data


class TokenBlacklistSerializer(jwt_serializers.TokenBlacklistSerializer):
    """Log out: blacklist the refresh token (our token class, so its claims are checked first)."""

    token_class = RefreshToken
