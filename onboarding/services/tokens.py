"""Refresh tokens: using one up, once."""

from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError


class RefreshTokenUsed(TokenError):
    """The refresh token was used already (blacklisted), perhaps by a parallel request a moment ago."""


@transaction.atomic
def refresh_token_redeem(*, token) -> None:
    """Blacklist ``token`` as it is used; raise RefreshTokenUsed unless this call is the one that did.

    The check and the insert are one statement: the blacklist's unique key on the token lets one
    insert through and makes every parallel one find the row instead, so a token sent N times at
    once starts one new token chain, not N.
    """
    _blacklisted, created = token.blacklist()
    if not created:
        raise RefreshTokenUsed("Token is blacklisted")
