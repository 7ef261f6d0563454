"""Which receiver addresses a webhook may reach: public ones only, unless the settings allow private networks.

A URL is checked when an endpoint is registered and again at every delivery, where the address it
resolves to is the one the sender connects to (``Destination.address``): a name that resolved to a
public address when checked cannot be re-resolved to an internal one between the check and the
connection (DNS rebinding).
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

ALLOWED_SCHEMES = ("http", "https")
# Cloud metadata services outside the ranges Python already calls non-global (AWS IPv6, Alibaba).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200"))


class UnsafeWebhookURL(ValueError):
    """Raised for a URL a webhook must not be sent to (bad syntax, scheme, or a non-public address)."""


@dataclass(frozen=True)
class Destination:
    """Where one delivery goes: the URL's parts and the one checked address to connect to."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    address: str


def url_check_syntax(url: str):
    """Return the URL split into its parts, or raise UnsafeWebhookURL for a malformed or non-HTTP one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookURL(_("Malformed URL: %(error)s.") % {"error": exc}) from exc
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeWebhookURL(_("Only http:// and https:// URLs can receive webhooks."))
    if not parts.hostname or any(c.isspace() for c in url):
        raise UnsafeWebhookURL(_("Malformed URL: it names no host."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookURL(_("Credentials in the URL are not supported: put them in its path or query."))
    return parts, port


def destination_resolve(url: str, *, allow_private: bool | None = None) -> Destination:
    """Resolve the URL's host once and return where to connect; raise UnsafeWebhookURL if it is not allowed.

    Every address the name resolves to must be public (one private answer refuses the URL), unless
    ``allow_private`` (default: WEBHOOK_ALLOW_PRIVATE_NETWORKS).
    """
    parts, port = url_check_syntax(url)
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookURL(_("The host %(host)s cannot be resolved.") % {"host": parts.hostname}) from exc
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            if not address_is_public(address):
                raise UnsafeWebhookURL(
                    _(
                        "%(host)s resolves to %(address)s, a private, loopback, link-local or metadata address; "
                        "set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow it."
                    )
                    % {"host": parts.hostname, "address": address}
                )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(scheme=parts.scheme, host=parts.hostname, port=port, target=target, address=addresses[0])


def address_is_public(address: str) -> bool:
    """Say whether an IP address is on the public internet (not private, loopback, link-local, metadata, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip not in METADATA_ADDRESSES
