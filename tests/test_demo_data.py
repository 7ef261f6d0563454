"""The demo data command: everything through the services, safe to run twice."""
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from onboarding.models import OnboardingEvent, OnboardingSession

pytestmark = pytest.mark.django_db


def _load(**options):
    out = io.StringIO()
    call_command("load_demo_data", completed=3, abandoned=2, force=True, verbosity=0, stdout=out, **options)
    return out.getvalue()


def _counts():
    return get_user_model().objects.count(), OnboardingSession.objects.count(), OnboardingEvent.objects.count()


def test_it_creates_the_printed_accounts_and_sessions_through_the_services():
    output = _load()

    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    assert users.get(username="demo_done").check_password("onboarding-demo")
    assert "admin         / onboarding-admin" in output and "/accounts/login/" in output
    states = dict(OnboardingSession.objects.values_list("user__username", "state"))
    assert states["demo_done"] == states["completed01"] == "completed"
    assert states["demo_new"] == states["abandoned01"] == "in_progress"
    assert OnboardingSession.objects.get(user__username="demo_halfway").current_step == "invites"
    assert OnboardingEvent.objects.filter(name="completed").count() == 5  # admin, demo_done, 3 generated
    times = list(OnboardingEvent.objects.order_by("created_at").values_list("created_at", flat=True))
    assert (times[-1] - times[0]).days >= 1  # spread over time, not all "now"


def test_running_it_twice_adds_nothing():
    _load()
    counts = _counts()

    _load()

    assert _counts() == counts


def test_it_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError):
        call_command("load_demo_data", completed=0, abandoned=0, verbosity=0, stdout=io.StringIO())
