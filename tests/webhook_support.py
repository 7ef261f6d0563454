"""A real HTTP(S) receiver on 127.0.0.1 for the webhook tests: it records every request and verifies its signature."""

import contextlib
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict
    body: bytes
    verified_with: list = field(default_factory=list)  # the secrets whose signature verified

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def signatures(self) -> list[str]:
        return self.headers["webhook-signature"].split(" ")


class Receiver:
    """An http.server in a thread. ``answers`` are the statuses to give, in order (then ``default``).

    With ``tls`` (a server context) it answers HTTPS; ``host`` is the name its URL gives (it listens on 127.0.0.1).
    """

    def __init__(
        self,
        *,
        secrets=(),
        answers=(),
        default=204,
        body=b"thanks",
        hang=False,
        port=None,
        tls: ssl.SSLContext | None = None,
        host="127.0.0.1",
    ):
        self.secrets, self.answers, self.default, self.body = list(secrets), deque(answers), default, body
        self.received: list[Received] = []
        self.hang = threading.Event()
        if hang:
            self.hang.set()
        self.release = threading.Event()
        self.arrived = threading.Event()
        self._server = None
        self.port = port or _free_port()
        self.tls, self.host = tls, host

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hooks"

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                receiver.received.append(Received(headers, body, receiver.verify(headers, body)))
                receiver.arrived.set()
                if receiver.hang.is_set():
                    receiver.release.wait(30)
                    return
                status = receiver.answers.popleft() if receiver.answers else receiver.default
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verify(self, headers: dict, body: bytes) -> list[str]:
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(secret)
        return verified

    @property
    def webhook_ids(self) -> list[str]:
        return [request.webhook_id for request in self.received]


@contextlib.contextmanager
def receiving(**kwargs):
    receiver = Receiver(**kwargs).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
