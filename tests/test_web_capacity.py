"""The web process under concurrent requests: gunicorn's threads and the connection pool.

A real gunicorn with the project's gunicorn.conf.py and one worker process, on the test database.
"""

import http.client
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from tests.factories import UserFactory
from tests.test_deploy import clean_environment, fetch, free_port, production_variables, serving_gunicorn

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct-horse-battery-staple"


def account():
    """A user whose password is hashed as in production (the suite's fast MD5 is not in gunicorn's hashers)."""
    hasher, user = PBKDF2PasswordHasher(), UserFactory()
    type(user).objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt()))
    return user


@pytest.fixture
def one_gunicorn_worker(tmp_path):
    """gunicorn with one worker process and the defaults of gunicorn.conf.py, on the test database."""
    port = free_port()
    database = connection.settings_dict
    env = clean_environment(
        **{
            **production_variables(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "TRUSTED_PROXY_COUNT": "0",
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}",
        }
    )
    env.pop("REDIS_URL")
    with open(tmp_path / "gunicorn.log", "w+") as log, serving_gunicorn(env, log) as base:
        yield base


def post_json(url: str, body: str) -> int:
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_login_does_not_hold_up_other_requests_of_its_worker_process(one_gunicorn_worker):
    user = account()
    body = f'{{"username": "{user.username}", "password": "{PASSWORD}"}}'
    login_done, login_sent = {}, threading.Event()

    def log_in():
        host, port = one_gunicorn_worker.removeprefix("http://").rstrip("/").split(":")
        http_connection = http.client.HTTPConnection(host, int(port), timeout=30)
        http_connection.request("POST", "/api/auth/token", body, {"Content-Type": "application/json"})
        login_sent.set()  # the request is with the only worker process, whose password hash takes ~0.3 s of CPU
        status = http_connection.getresponse().status
        login_done.update(status=status, at=time.monotonic())
        http_connection.close()

    assert post_json(f"{one_gunicorn_worker}/api/auth/token", body) == 200  # warm: the worker has loaded everything
    login = threading.Thread(target=log_in)
    login.start()
    assert login_sent.wait(10)
    status = fetch(f"{one_gunicorn_worker}/healthz")[0]
    answered_at = time.monotonic()
    login.join(timeout=30)

    assert status == 200
    assert login_done["status"] == 200
    assert answered_at < login_done["at"]  # answered while the login was still hashing


def test_the_web_process_keeps_its_database_connections_open_between_requests(one_gunicorn_worker):
    user, started = account(), timezone.now()
    assert (
        post_json(
            f"{one_gunicorn_worker}/api/auth/token", f'{{"username": "{user.username}", "password": "{PASSWORD}"}}'
        )
        == 200
    )
    first = web_connections(since=started)
    for _ in range(5):
        assert fetch(f"{one_gunicorn_worker}/readyz")[0] in (200, 503)  # each reads the database
    later = web_connections(since=started)

    assert first, "the pool keeps a connection open after the request"
    assert first <= later  # the same server processes: nothing was opened per request
    assert len(later) <= settings.DATABASE_POOL_MAX_SIZE  # at most the pool per process


def web_connections(*, since) -> set[int]:
    """Server processes connected to the test database since ``since``, other than the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_start >= %s",
            [since],
        )
        return {row[0] for row in cursor.fetchall()}
