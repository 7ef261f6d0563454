"""Real broken dependencies on 127.0.0.1 for the outage tests: a hung TCP server, a closed port, a
Redis server of our own (stopped with SIGSTOP, killed, restarted) and a TCP proxy we can cut.

Nothing here touches the machine's shared PostgreSQL or Redis: the Redis is our own process on a
spare port, and PostgreSQL is only ever reached through the proxy, which we cut instead.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time


def free_port() -> int:
    with socket.socket() as probe:  # bind, read the port, close: nobody listens on it afterwards
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def hung_tcp_server(accepted: list | None = None):
    """Yield the port of a server that accepts every connection and never sends a byte.

    The connections it accepted are appended to ``accepted`` (a list of the caller's) if given.
    """
    server = socket.create_server(("127.0.0.1", 0))
    accepted, stop = ([] if accepted is None else accepted), threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        server.close()


class RedisServer:
    """A redis-server of our own on a spare port (no persistence), to stop, kill and start again."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        raise RuntimeError("our redis-server did not start")

    def hang(self):
        """SIGSTOP: the kernel still accepts connections, the server never answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target``; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.up = threading.Event()
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def start(self):
        self.up.set()
        self._listen()
        return self

    def _listen(self):
        self.server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.server.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, args=(self.server,), daemon=True)
        self.thread.start()

    def _accept(self, server):
        while self.up.is_set():
            try:
                client, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()
        server.close()

    def _pipe(self, source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self):
        """Drop every open connection and close the port (new connections are refused)."""
        self.up.clear()
        self.thread.join()
        with self.lock:
            for end in self.sockets:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()
            self.sockets.clear()

    def restore(self):
        self.up.set()
        self._listen()

    def close(self):
        self.cut()
