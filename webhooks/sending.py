"""One HTTP POST to a checked address: no redirects followed, a time limit on the whole answer, a capped read.

The connection goes to ``Destination.address`` (checked by ``destination_resolve``), never to a
fresh resolution of the name; TLS still verifies the certificate against the host name.
"""

import functools
import http.client
import io
import socket
import ssl
import time
from dataclasses import dataclass

from .addresses import Destination

USER_AGENT = "onboarding-webhooks/1"
EXCERPT_BYTES = 1024  # of the answer's body: kept with the attempt, and all that is ever read


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status (None if there was no answer), the start of the body, or an error."""

    status: int | None
    excerpt: str
    error: str
    duration_ms: int


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to a given address, whatever the host name resolves to now."""

    def __init__(self, destination: Destination, timeout: float, tls: ssl.SSLContext | None):
        # The scheme's own port is left out of the Host header ("example.com", not "example.com:443"):
        # http.client compares with default_port, which is 80 on every HTTPConnection.
        self.default_port = 443 if tls else 80
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address, self._tls = destination.address, tls

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host) if self._tls else sock


class _DeadlineReader(io.RawIOBase):
    """The answer's bytes, each read given only what is left of the time limit (a receiver dripping bytes too)."""

    def __init__(self, raw, sock: socket.socket, deadline: float):
        self._raw, self._sock, self._deadline = raw, sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the time limit ran out")
        self._sock.settimeout(remaining)
        return self._raw.readinto(buffer)

    def close(self):
        self._raw.close()  # the socket's file: the socket itself closes once nothing reads it
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock, *args, deadline: float, **kwargs):
        super().__init__(sock, *args, **kwargs)
        self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))


_tls_context = ssl.create_default_context()


def post(*, destination: Destination, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST ``body`` and return the answer; no answer within ``timeout`` seconds (in all) is an error."""
    started = time.monotonic()
    connection = _PinnedConnection(destination, timeout, _tls_context if destination.scheme == "https" else None)
    connection.response_class = functools.partial(_DeadlineResponse, deadline=started + timeout)
    try:
        connection.request(
            "POST",
            destination.target,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, "Connection": "close", **headers},
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        return Answer(response.status, excerpt, "", _elapsed_ms(started))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        timed_out = time.monotonic() - started >= timeout or isinstance(exc, TimeoutError)
        error = f"no answer within {timeout:g} s" if timed_out else f"{type(exc).__name__}: {exc}"
        return Answer(None, "", error[:500], _elapsed_ms(started))
    finally:
        connection.close()


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
