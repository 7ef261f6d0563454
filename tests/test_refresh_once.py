"""One refresh token is redeemed once, also when the same token arrives in parallel (real threads, PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from onboarding.api.tokens import RefreshToken

from .factories import UserFactory

URL = "/api/auth/token/refresh"
PARALLEL = 8


def refresh_in_parallel(refresh: str, count: int) -> list:
    """Send ``refresh`` from ``count`` threads released together; return their responses."""
    barrier, responses = threading.Barrier(count), [None] * count

    def send(index):
        try:
            barrier.wait()
            responses[index] = APIClient().post(URL, {"refresh": refresh}, format="json")
        finally:
            connections.close_all()  # each thread had its own database connection

    threads = [threading.Thread(target=send, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_many_parallel_refreshes_of_one_token_succeeds(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs a database that serves requests at once")
    settings.API_TOKEN_THROTTLE_RATE = None
    refresh = str(RefreshToken.for_user(UserFactory()))

    responses = refresh_in_parallel(refresh, PARALLEL)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (PARALLEL - 1), statuses
    refused = [response.json() for response in responses if response.status_code == 401]
    assert all(body["code"] == "token_not_valid" for body in refused)


@pytest.mark.django_db(transaction=True)
def test_the_one_new_refresh_token_works_and_the_old_one_stays_refused(settings):
    settings.API_TOKEN_THROTTLE_RATE = None
    refresh = str(RefreshToken.for_user(UserFactory()))
    (winner,) = [response for response in refresh_in_parallel(refresh, 4) if response.status_code == 200]

    again = APIClient().post(URL, {"refresh": refresh}, format="json")
    onwards = APIClient().post(URL, {"refresh": winner.json()["refresh"]}, format="json")

    assert again.status_code == 401
    assert onwards.status_code == 200
