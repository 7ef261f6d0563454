"""Where a staff request came from, for the access log: django-ipware under the project's proxy rule.

X-Forwarded-For is trusted only as far as TRUSTED_PROXY_COUNT says (the rule the lock-outs follow):
with no trusted proxy, the peer's address (REMOTE_ADDR) is the client.
"""

from django.conf import settings
from ipware import get_client_ip


def request_client_address(request) -> str | None:
    """Return the client's address of ``request`` (None when there is none)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        address, _routable = get_client_ip(request, request_header_order=["REMOTE_ADDR"])
    else:
        address, _routable = get_client_ip(
            request,
            proxy_order="right-most",
            proxy_count=proxies,
            strict=False,
            request_header_order=["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"],
        )
    # A chain ipware cannot square with the count (fewer entries than proxies): the peer we can see.
    return address or request.META.get("REMOTE_ADDR") or None
