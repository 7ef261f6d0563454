"""What the end-to-end benchmarks share: their own PostgreSQL database and Redis, seeded accounts,
the Procfile's processes on 127.0.0.1, and the figures they print.

`load/run.py` runs the whole Procfile through `make stack`; `chaos.py` starts the Procfile's web
and worker lines itself (`ProcfileProcess`), so it can kill gunicorn and start it again on the
same port while the worker goes on.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import psycopg.sql

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SEED_SCRIPT = ROOT / "benchmarks" / "load" / "seed.py"
# What the run's pages never link (the admin's, the API docs' and DRF's files): not collected,
# which saves nearly all of collectstatic's hashing and compressing.
COLLECTSTATIC_SKIP = ("admin", "drf_spectacular_sidecar", "rest_framework")


# --- PostgreSQL and the machine -----------------------------------------------------------


def only_loopback(url: str) -> bool:
    """Whether ``url`` (a database or Redis URL) names this machine: a benchmark targets nothing else."""
    host = re.sub(r"^\w+://([^@/]*@)?", "", url).split(":")[0].split("/")[0]
    return host in ("127.0.0.1", "localhost")


def server_url(database_url: str) -> tuple[str, str]:
    base, name = database_url.rsplit("/", 1)
    return base + "/postgres", name


def recreate_database(database_url: str) -> None:
    drop_database(database_url)
    server, name = server_url(database_url)
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def drop_database(database_url: str) -> None:
    server, name = server_url(database_url)
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def postgres_pids(database_url: str) -> list[int]:
    """The server processes connected to the run's database now."""
    _, name = server_url(database_url)
    with psycopg.connect(database_url, autocommit=True) as db:
        return [
            r[0]
            for r in db.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name]
            ).fetchall()
        ]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (None: it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- The run's data -----------------------------------------------------------------------


def seed_accounts(env: dict, out: Path, *, accounts: int, staff: int = 0, workspaces: int = 20) -> None:
    """Seed accounts, staff and joinable workspaces (load/seed.py) into the database ``env`` names."""
    subprocess.run(
        [sys.executable, str(SEED_SCRIPT), "--accounts", str(accounts), "--staff", str(staff)]
        + ["--workspaces", str(workspaces), str(out)],
        env=env,
        check=True,
        cwd=ROOT,
    )


def wait_for_outbox_drain(database_url: str, timeout: float, quiet: float = 3.0) -> float | None:
    """Seconds until no completion message is pending and none has come for ``quiet`` seconds.

    A request already sent still runs to its end on the server after the load stops: a
    completion can commit (and add a pending message) after that. None: still pending after ``timeout``.
    """
    started, last_change, last = time.monotonic(), time.monotonic(), None
    with psycopg.connect(database_url, autocommit=True) as db:
        while time.monotonic() - started < timeout:
            state = db.execute(
                """SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FROM onboarding_outbox"""
            ).fetchone()
            if state != last:
                last, last_change = state, time.monotonic()
            if state[0] == 0 and time.monotonic() - last_change >= quiet:
                return last_change - started
            time.sleep(0.25)
    return None


# --- The Procfile's processes, one by one -------------------------------------------------


def stack_environment(*, port: int, database_url: str, redis_url: str, extra: dict | None = None) -> dict:
    """The environment `make stack` gives the Procfile (the Makefile's STACK_ENV), for 127.0.0.1:``port``."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),  # this checkout's code, whichever checkout the virtualenv was made for
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-run-" + os.urandom(16).hex(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        **(extra or {}),
    }


def prepare_stack(env: dict, log: Path) -> None:
    """What `make stack` does before the Procfile: migrate, collect the static files the pages link."""
    skip = [option for name in COLLECTSTATIC_SKIP for option in ("-i", name)]
    with open(log, "a") as out:
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0", *skip]):
            subprocess.run(
                [sys.executable, "manage.py", *command], env=env, cwd=ROOT, check=True, stdout=out, stderr=out
            )


def procfile_command(name: str) -> str:
    """The command line of the Procfile's process ``name`` (web, worker, beat)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.strip()
    raise KeyError(f"no {name!r} in the Procfile")


class ProcfileProcess:
    """One Procfile line in a process group of its own: started, waited for, killed like a crash."""

    def __init__(self, name: str, env: dict, log_path: Path, *, ready=None):
        self.name, self.env, self.log_path, self.ready = name, env, log_path, ready
        self.process = None

    def start(self, timeout: float = 120) -> None:
        assert self.process is None, f"{self.name} already runs"
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            ["sh", "-c", "exec " + procfile_command(self.name)],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while self.ready is not None and not self.ready(self):
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} was not ready within {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the whole group (master and workers): no goodbye, the port refuses connections."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.process = None
        self.log.close()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the group (a graceful stop), SIGKILL after ``timeout``."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        self.process = None
        self.log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def web_answers(port: int):
    """A readiness check for the web process: /healthz answers 200 on ``port``."""

    def ready(_process) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    return ready


def worker_ready(process: ProcfileProcess) -> bool:
    """A readiness check for the Celery worker: its log says it is ready."""
    return re.search(r"\bready\.", process.log_text()) is not None
