"""Password reset by e-mail (Django's views): linked from the login page, and it lifts the account's lock-outs."""

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client

from .conftest import PASSWORD
from .factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "a-brand-new-passphrase-42"
LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 8
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def ask_for_a_reset(client, email):
    return client.post("/accounts/password_reset/", {"email": email})


def reset_link(mailoutbox) -> str:
    (message,) = mailoutbox
    return LINK.search(message.body).group(1)


def choose_new_password(client, link):
    form = client.get(link, follow=True)  # Django moves the token out of the URL into the session
    assert form.status_code == 200 and "new_password1" in form.content.decode()
    return client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


def test_the_login_page_links_to_the_password_reset(client):
    page = client.get("/accounts/login/").content.decode()

    assert 'href="/accounts/password_reset/"' in page


def test_a_reset_request_sends_one_e_mail_with_a_link_to_the_account_address(client, mailoutbox, settings):
    settings.DEFAULT_FROM_EMAIL = "accounts@example.org"
    user = UserFactory(email="ada@example.org")

    response = ask_for_a_reset(client, "ada@example.org")

    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    (message,) = mailoutbox
    assert message.to == ["ada@example.org"] and message.from_email == "accounts@example.org"
    assert "Reset your password" in message.subject and "\n" not in message.subject
    assert user.username in message.body and LINK.search(message.body)


def test_an_unknown_address_gets_the_same_answer_and_no_e_mail(client, mailoutbox):
    response = ask_for_a_reset(client, "nobody@example.org")

    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert mailoutbox == []


def test_the_e_mailed_link_sets_the_new_password_once(client, mailoutbox):
    user = UserFactory(email="ada@example.org")
    ask_for_a_reset(client, user.email)
    link = reset_link(mailoutbox)

    done = choose_new_password(client, link)
    again = Client().get(link, follow=True)

    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert "This link does not work" in again.content.decode()


def test_a_completed_reset_lifts_the_accounts_lock_outs_from_every_address(client, mailoutbox):
    user = UserFactory(email="ada@example.org")
    for attempt in range(8):  # locks the account from 198.51.100.1 and account-wide
        login(Client(), user.username, "wrong", REMOTE_ADDR=f"198.51.100.{1 + attempt // 5}")
    assert login(Client(), user.username, PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert login(Client(), user.username, PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429

    ask_for_a_reset(client, user.email)
    choose_new_password(client, reset_link(mailoutbox))

    assert login(Client(), user.username, NEW_PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 302
    assert login(Client(), user.username, NEW_PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302


def test_a_reset_of_one_account_leaves_others_locked(client, mailoutbox):
    user, other = UserFactory(email="ada@example.org"), UserFactory()
    for _ in range(5):
        login(Client(), other.username, "wrong")

    ask_for_a_reset(client, user.email)
    choose_new_password(client, reset_link(mailoutbox))

    assert login(Client(), other.username, PASSWORD).status_code == 429


def test_reset_requests_are_throttled_per_address(client, mailoutbox, settings):
    settings.PASSWORD_RESET_THROTTLE_RATE = "2/hour"
    user = UserFactory(email="ada@example.org")

    statuses = [ask_for_a_reset(client, user.email).status_code for _ in range(3)]

    assert statuses == [302, 302, 429]
    assert len(mailoutbox) == 2


def test_the_e_mail_settings_come_from_the_environment(tmp_path):
    code = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_FILE_PATH, s.DEFAULT_FROM_EMAIL)"
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "onboarding_project.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path),
        "DEFAULT_FROM_EMAIL": "accounts@example.org",
    }

    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.split() == [env["EMAIL_BACKEND"], str(tmp_path), "accounts@example.org"], result.stderr
