"""The outage drill: a production-configured stack (gunicorn, a Celery worker, beat; DEBUG off) loses
Redis (hung, then down), PostgreSQL (cut for 10 s) and its worker (killed mid-batch). Through all of
it the site answers (503 where it must), never 500, nothing is lost, and the pipeline catches up by
itself once the dependency is back.

The stack talks to PostgreSQL only through a TCP proxy of ours (cut, then restored) and to a
redis-server of our own on a spare port: the machine's shared PostgreSQL and Redis are never touched.
docs/runbooks.md tells an operator what each failure looks like and what to do.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connections

from aggregation.models import AnswerGroupTotal, AnswerSnapshot
from onboarding.api.tokens import AccessToken
from onboarding.models import OutboxMessage

from .browser_support import _database_url
from .conftest import PASSWORD
from .factories import OnboardingSessionFactory, UserFactory, session_data
from .outage_support import RedisServer, TcpProxy, free_port

pytestmark = pytest.mark.usefixtures("transactional_db")

ROOT = Path(__file__).resolve().parent.parent
ALL_STEPS = ("profile", "work-profile", "tools", "invites", "preferences", "workspace")
CATCH_UP_WITHIN = 45  # seconds: sweep every 1 s, messages re-sent after 3 s, a loaded machine
FIGURES = []  # (scenario, request, status, seconds): printed at the end of the module


class Stack:
    """gunicorn, a worker and beat in processes of their own, on the test database through ``proxy``."""

    def __init__(self, tmp: Path, proxy: TcpProxy, redis: RedisServer):
        self.tmp, self.port = tmp, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        database = _database_url().rsplit("@", 1)
        credentials, name = database[0], database[1].split("/", 1)[1]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.drill_settings",
            "DEBUG": "false",
            "SECRET_KEY": settings.SECRET_KEY,  # the tests sign bearer tokens with it
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "DATABASE_URL": f"{credentials}@127.0.0.1:{proxy.port}/{name}",
            "DATABASE_POOL_TIMEOUT": "2",
            "REDIS_URL": redis.url,
            "ONBOARDING_OUTBOX_SWEEP_SECONDS": "1",
            "ONBOARDING_OUTBOX_REDISPATCH_AFTER": "3",
            "API_WRITE_THROTTLE_RATE": "10000/min",
            "API_TOKEN_THROTTLE_RATE": "10000/min",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "4",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def _spawn(self, name, *args):
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [*args], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_web(self):
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self._spawn("web", gunicorn, "--config", "gunicorn.conf.py", "onboarding_project.wsgi")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn did not start:\n{self.log('web')}")

    def start_worker(self):
        celery = str(Path(sys.executable).parent / "celery")
        self._spawn(
            "worker", celery, "--app", "onboarding_project", "worker", "--pool", "solo", "--loglevel", "WARNING"
        )

    def start_beat(self):
        celery = str(Path(sys.executable).parent / "celery")
        schedule = str(self.tmp / "celerybeat-schedule")
        self._spawn(
            "beat", celery, "--app", "onboarding_project", "beat", "--schedule", schedule, "--loglevel", "WARNING"
        )

    def kill(self, name):
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self):
        for name in list(self.processes):
            self.kill(name)

    def log(self, name) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def outage_stack(django_db_setup, tmp_path_factory):
    if connections["default"].vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("the drill needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    tmp = tmp_path_factory.mktemp("drill")
    database = connections["default"].settings_dict
    proxy = TcpProxy(database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)).start()
    redis = RedisServer(tmp).start()
    stack = Stack(tmp, proxy, redis)
    stack.start_web()
    stack.start_worker()
    stack.start_beat()
    yield stack, proxy, redis
    stack.stop_all()
    redis.kill()
    proxy.close()
    print("\nOutage drill figures (scenario, request, status, seconds):")
    for figure in FIGURES:
        scenario, label, status, seconds = figure
        print(f"  {scenario:<14} {label:<40} {status!s:<6} {seconds:6.2f}")


def timed(scenario, label, call):
    started = time.monotonic()
    try:
        response = call()
        status = response.status_code
    except requests.RequestException as exc:
        response, status = exc, "error"
    elapsed = time.monotonic() - started
    FIGURES.append((scenario, label, status, elapsed))
    return response, elapsed


def finished_session(workspace_name):
    """A session with every step answered, creating a workspace of its own (names are unique)."""
    workspace = {"mode": "create", "workspace_name": workspace_name, "join_code": ""}
    return OnboardingSessionFactory(
        user=UserFactory(), done_steps=ALL_STEPS, data=session_data(ALL_STEPS, answers={"workspace": workspace})
    )


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def the_usual_requests(stack, scenario) -> dict:
    """Log in on the page, get a token, save a draft, complete a session; return {label: (response, seconds)}."""
    login_user, halfway = UserFactory(), OnboardingSessionFactory(user=UserFactory(), done_steps=("profile",))
    finished = OnboardingSessionFactory(user=UserFactory(), done_steps=ALL_STEPS)
    browser = requests.Session()
    results = {}
    results["GET /accounts/login/"] = timed(
        scenario, "GET /accounts/login/", lambda: browser.get(f"{stack.url}/accounts/login/", timeout=10)
    )
    csrf = browser.cookies.get("csrftoken", "")
    form = {"username": login_user.username, "password": PASSWORD, "csrfmiddlewaretoken": csrf}
    results["POST /accounts/login/"] = timed(
        scenario,
        "POST /accounts/login/",
        lambda: browser.post(f"{stack.url}/accounts/login/", data=form, allow_redirects=False, timeout=10),
    )
    credentials = {"username": login_user.username, "password": PASSWORD}
    results["POST /api/auth/token"] = timed(
        scenario,
        "POST /api/auth/token",
        lambda: requests.post(f"{stack.url}/api/auth/token", json=credentials, timeout=10),
    )
    draft = {"revision": halfway.revision, "step": "work-profile", "action": "draft", "answers": {"team_name": "X"}}
    results["PATCH progress (draft)"] = timed(
        scenario,
        "PATCH progress (draft)",
        lambda: requests.patch(
            f"{stack.url}/api/users/me/onboarding-progress", json=draft, headers=bearer(halfway.user), timeout=10
        ),
    )
    results["POST complete"] = timed(
        scenario,
        "POST complete",
        lambda: requests.post(
            f"{stack.url}/api/onboarding/complete",
            json={"revision": finished.revision},
            headers=bearer(finished.user),
            timeout=10,
        ),
    )
    results["GET /readyz"] = timed(scenario, "GET /readyz", lambda: requests.get(f"{stack.url}/readyz", timeout=10))
    results["GET /healthz"] = timed(scenario, "GET /healthz", lambda: requests.get(f"{stack.url}/healthz", timeout=10))
    results["finished_session"] = (finished, 0)
    return results


def statuses(results) -> dict:
    return {label: response.status_code for label, (response, _) in results.items() if hasattr(response, "status_code")}


def wait_for(condition, timeout=CATCH_UP_WITHIN):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def delivered(session) -> bool:
    return (
        AnswerSnapshot.objects.filter(session_id=session.pk).exists()
        and not OutboxMessage.objects.filter(session=session, state=OutboxMessage.State.PENDING).exists()
    )


def test_with_redis_hung_the_site_answers_without_a_500_and_catches_up(outage_stack):
    stack, proxy, redis = outage_stack
    redis.hang()
    try:
        results = the_usual_requests(stack, "redis hung")
    finally:
        redis.resume()

    assert statuses(results) == {
        "GET /accounts/login/": 200,
        "POST /accounts/login/": 302,
        "POST /api/auth/token": 200,
        "PATCH progress (draft)": 200,
        "POST complete": 200,
        "GET /readyz": 503,
        "GET /healthz": 200,
    }, stack.log("web")
    assert results["GET /readyz"][0].json() == {
        "status": "unavailable",
        "checks": {"database": {"status": "ok"}, "broker": {"status": "fail"}, "outbox": {"status": "ok"}},
    }
    assert max(seconds for label, (_, seconds) in results.items() if label != "finished_session") < 3
    session = results["finished_session"][0]
    assert wait_for(lambda: delivered(session)), "the completion reached the snapshots once Redis answered"


def test_with_redis_down_the_site_answers_without_a_500_and_catches_up(outage_stack):
    stack, proxy, redis = outage_stack
    redis.kill()
    try:
        results = the_usual_requests(stack, "redis down")
    finally:
        redis.start()  # the same port, empty: the queue is gone, the outbox is not

    assert 500 not in statuses(results).values()
    assert statuses(results)["POST /accounts/login/"] == 302 and statuses(results)["POST complete"] == 200
    assert statuses(results)["GET /readyz"] == 503
    assert max(seconds for label, (_, seconds) in results.items() if label != "finished_session") < 3
    session = results["finished_session"][0]
    assert wait_for(lambda: delivered(session)), "the completion reached the snapshots once Redis was back"


def test_with_postgresql_cut_off_for_ten_seconds_the_site_answers_503_not_500_and_recovers(outage_stack):
    stack, proxy, redis = outage_stack
    finished = OnboardingSessionFactory(user=UserFactory(), done_steps=ALL_STEPS)
    proxy.cut()
    cut_at = time.monotonic()
    try:
        during = {
            "healthz": timed("postgres down", "GET /healthz", lambda: requests.get(f"{stack.url}/healthz", timeout=10)),
            "readyz": timed("postgres down", "GET /readyz", lambda: requests.get(f"{stack.url}/readyz", timeout=10)),
            "login page": timed(
                "postgres down",
                "GET /accounts/login/",
                lambda: requests.get(f"{stack.url}/accounts/login/", timeout=10),
            ),
            "complete": timed(
                "postgres down",
                "POST complete",
                lambda: requests.post(
                    f"{stack.url}/api/onboarding/complete",
                    json={"revision": finished.revision},
                    headers=bearer(finished.user),
                    timeout=10,
                ),
            ),
            "dashboard": timed(
                "postgres down",
                "GET /dashboard/ (signed in)",
                lambda: requests.get(f"{stack.url}/dashboard/", cookies={"sessionid": "x" * 32}, timeout=10),
            ),
        }
        time.sleep(max(0.0, 10 - (time.monotonic() - cut_at)))
    finally:
        proxy.restore()

    codes = {name: response.status_code for name, (response, _) in during.items()}
    assert codes == {"healthz": 200, "readyz": 503, "login page": 200, "complete": 503, "dashboard": 503}, stack.log(
        "web"
    )
    assert during["readyz"][1] < 3, during["readyz"][1]
    assert during["complete"][0].json()["code"] == "unavailable" and during["complete"][0].headers["Retry-After"]
    # Back: the same completion, retried as the browser client does, goes through and is delivered.
    retried = None
    for _ in range(20):
        retried = requests.post(
            f"{stack.url}/api/onboarding/complete",
            json={"revision": finished.revision},
            headers=bearer(finished.user),
            timeout=10,
        )
        if retried.status_code == 200:
            break
        time.sleep(0.5)
    assert retried.status_code == 200
    assert wait_for(lambda: delivered(finished))
    assert requests.get(f"{stack.url}/readyz", timeout=10).status_code == 200


def test_a_worker_killed_mid_batch_loses_nothing_and_a_new_one_catches_up(outage_stack):
    stack, proxy, redis = outage_stack
    sessions = [finished_session(f"Engines {number}") for number in range(20)]
    ids = [session.pk for session in sessions]
    stack.kill("worker")  # the batch queues up in Redis meanwhile
    for session in sessions:
        response = requests.post(
            f"{stack.url}/api/onboarding/complete",
            json={"revision": session.revision},
            headers=bearer(session.user),
            timeout=10,
        )
        assert response.status_code == 200
    stack.start_worker()

    deadline = time.monotonic() + 60
    while not AnswerSnapshot.objects.filter(session_id__in=ids).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    stack.kill("worker")  # SIGKILL mid-batch: no goodbye, its current message unacknowledged
    ingested_before = AnswerSnapshot.objects.filter(session_id__in=ids).count()
    stack.start_worker()

    assert wait_for(lambda: AnswerSnapshot.objects.filter(session_id__in=ids).count() == len(ids)), (
        AnswerSnapshot.objects.filter(session_id__in=ids).count(),
        stack.log("worker"),
    )
    assert wait_for(
        lambda: not OutboxMessage.objects.filter(session_id__in=ids, state=OutboxMessage.State.PENDING).exists()
    )
    roles = AnswerGroupTotal.objects.filter(step="profile", question="role")
    assert sum(total.count for total in roles) == len(ids), "each completion counted exactly once"
    FIGURES.append(("worker killed", f"ingested before the kill: {ingested_before}/{len(ids)}", "-", 0.0))
