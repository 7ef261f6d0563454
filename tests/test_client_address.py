"""The client address that lock-outs and throttles count: X-Forwarded-For trusted only as far as TRUSTED_PROXY_COUNT."""

import pytest
from django.test import RequestFactory

from onboarding.brute_force import client_address

PEER = "192.0.2.10"


def _address(forwarded_for: str | None) -> str:
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=PEER, **headers))


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (0, "203.0.113.5", PEER),  # no trusted proxy: the header is whatever the client sent
        (1, None, PEER),
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "10.0.0.1, 203.0.113.5", "203.0.113.5"),  # the client forged the left part
        (2, "10.0.0.1, 203.0.113.5, 198.51.100.7", "203.0.113.5"),  # the outer proxy saw the client
        (2, "203.0.113.5", PEER),  # fewer entries than trusted proxies: no entry to trust
        (1, "not-an-address", PEER),
    ],
)
def test_the_client_is_the_entry_the_outermost_trusted_proxy_appended(settings, proxies, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = proxies

    assert _address(forwarded_for) == expected
