"""The Django admin for staff: every page renders, answers are readable and escaped, actions use the services."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from waffle.models import Sample, Switch

from aggregation.models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot, ExportRun
from onboarding.api.tokens import RefreshToken
from onboarding.manifest import display_value
from onboarding.models import OnboardingEvent, OnboardingSession, OutboxMessage
from webhooks.events import WEBHOOK_TEST
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_send_test

from .conftest import complete_through_services
from .factories import AnswerSnapshotFactory, OnboardingSessionFactory, UserFactory, valid_answers

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"


@pytest.fixture
def everything(db):
    """A row of every registered model: a completed walk-through, a half-way session, analytics rows."""
    completed = complete_through_services(UserFactory(username="ada", email="ada@example.org"))
    OnboardingSessionFactory(user=UserFactory(username="halfway"), done_steps=("profile", "work-profile"))
    AnswerSnapshotFactory(user=completed.user, session_id=completed.pk, completed_at=completed.completed_at)
    AnswerGroupTotal.objects.create(step="profile", question="role", answer="engineering", count=1)
    AnswerArmTotal.objects.create(
        flag="onboarding-ai-question", arm="on", step="profile", question="role", answer="engineering", count=1
    )
    Switch.objects.create(name="a-switch")  # waffle's own models (its flags: the manifest's, made by migrate)
    Sample.objects.create(name="a-sample", percent=10)
    ExportRun.objects.create(window_end=timezone.now(), rows=1, files=["a.ndjson"])
    Group.objects.create(name="Support")
    RefreshToken.for_user(completed.user).blacklist()  # an outstanding and a blacklisted token (logout)
    endpoint = WebhookEndpoint.objects.create(
        url="https://hooks.example.com/in", events=[WEBHOOK_TEST], secret="whsec_x"
    )
    endpoint_send_test(endpoint=endpoint)  # an event and its delivery
    return completed


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def test_every_model_of_the_project_is_registered():
    labels = {model._meta.label for model in admin.site._registry}
    assert {
        "onboarding.OnboardingSession",
        "onboarding.OnboardingEvent",
        "onboarding.OutboxMessage",
        "onboarding.Workspace",
        "onboarding.WorkspaceMembership",
        "onboarding.Invitation",
        "aggregation.AnswerSnapshot",
        "aggregation.AnswerGroupTotal",
        "aggregation.AnswerArmTotal",
        "aggregation.ExportRun",
        "waffle.Flag",
    } <= labels


def test_every_changelist_and_change_form_renders_for_staff(staff, everything):
    for model, _ in _registered():
        opts = model._meta
        obj = model._default_manager.first()
        assert obj is not None, opts.label
        changelist = staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
        change = staff.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        assert change.status_code == 200, opts.label


@pytest.mark.parametrize(
    "query",
    [
        {"state__exact": "in_progress"},
        {"current_step__exact": "tools"},
        {"version__exact": "1"},
        {"q": "ADA@example.org"},
        {"q": "ad"},
        {"started_at__year": str(timezone.now().year)},
    ],
)
def test_the_sessions_changelist_filters_and_searches(staff, everything, query):
    response = staff.get(reverse("admin:onboarding_onboardingsession_changelist"), query)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_the_sessions_search_finds_by_username(staff, everything):
    response = staff.get(reverse("admin:onboarding_onboardingsession_changelist"), {"q": "halfway"})
    assert [s.user.username for s in response.context["cl"].result_list] == ["halfway"]


@pytest.mark.parametrize(
    "url_name, query",
    [
        ("admin:aggregation_answersnapshot_changelist", {"role": "engineering"}),
        ("admin:aggregation_answersnapshot_changelist", {"completed_at__year": str(timezone.now().year)}),
        ("admin:aggregation_answergrouptotal_changelist", {"step": "profile", "question": "role"}),
        ("admin:onboarding_outboxmessage_changelist", {"state__exact": "pending"}),
        ("admin:onboarding_outboxmessage_changelist", {"state__exact": "failed"}),
        (
            "admin:onboarding_onboardingevent_changelist",
            {"name__exact": "step_saved", "source__exact": "api", "step": "tools"},
        ),
    ],
)
def test_the_analytics_and_outbox_filters_render(staff, everything, url_name, query):
    assert staff.get(reverse(url_name), query).status_code == 200


def test_the_snapshot_changelist_filters_by_workspace(staff, everything):
    snapshot = AnswerSnapshot.objects.get()
    workspace = OnboardingSession.objects.get(pk=snapshot.session_id).user.workspace_memberships.get().workspace
    AnswerSnapshot.objects.filter(pk=snapshot.pk).update(workspace=workspace)
    url = reverse("admin:aggregation_answersnapshot_changelist")
    for value in (str(workspace.pk), workspace.slug):
        response = staff.get(url, {"workspace": value, "role": "engineering"})
        assert response.status_code == 200
        assert response.context["cl"].result_count == 1
        html = response.content.decode()
        assert f'value="{value}"' in html and '<input type="hidden" name="role" value="engineering">' in html
    assert staff.get(url, {"workspace": "no-such-slug"}).context["cl"].result_count == 0


def test_a_session_shows_its_answers_as_a_readable_table(staff, everything):
    response = staff.get(reverse("admin:onboarding_onboardingsession_change", args=[everything.pk]))
    html = response.content.decode()
    assert '<table class="onb-answers">' in html
    assert "Profile basics" in html and "Full name" in html and "Ada Lovelace" in html
    assert "Send me product updates" in html


def test_the_answers_table_shows_choice_labels_like_the_wizard(staff, everything):
    html = staff.get(reverse("admin:onboarding_onboardingsession_change", args=[everything.pk])).content.decode()

    assert '<td class="onb-label">Role</td><td>Engineering</td>' in html
    assert "<td>Project tracking, Reporting</td>" in html and "project_tracking" not in html
    assert "<td>GitHub, Slack</td>" in html
    assert "<td>Create a new workspace</td>" in html and "<td>Yes</td>" in html
    for step, fields in everything.answers.items():
        for name, value in fields.items():  # the wizard's own rule, cell by cell
            assert f"<td>{escape(display_value(step, name, value))}</td>" in html, (step, name)


def test_user_text_in_the_answers_table_is_escaped(staff):
    answers = {
        "profile": valid_answers("profile", full_name=SCRIPT, job_title="<b>boss</b>"),
        "tools": valid_answers("tools", other_tools=[SCRIPT]),
    }
    session = OnboardingSessionFactory(
        done_steps=("profile",),
        data={"answers": answers, "completed_steps": ["profile"], "skipped_steps": [], "drafts": {}, "history": []},
    )
    snapshot = AnswerSnapshotFactory(answers=answers)
    for url in (
        reverse("admin:onboarding_onboardingsession_change", args=[session.pk]),
        reverse("admin:aggregation_answersnapshot_change", args=[snapshot.pk]),
    ):
        html = staff.get(url).content.decode()
        assert SCRIPT not in html and "<b>boss</b>" not in html
        assert html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") == 2  # a full name, a list of text
        assert "&lt;b&gt;boss&lt;/b&gt;" in html


def test_sessions_are_read_only_in_the_admin(staff, everything):
    url = reverse("admin:onboarding_onboardingsession_change", args=[everything.pk])
    response = staff.post(url, {"state": "in_progress"})
    assert response.status_code == 403
    everything.refresh_from_db()
    assert everything.state == "completed"


def test_the_reset_action_restarts_onboarding_through_the_service(staff, everything):
    response = staff.post(
        reverse("admin:onboarding_onboardingsession_changelist"),
        {
            "action": "reset_onboarding",
            "_selected_action": [str(everything.pk)],
        },
    )
    assert response.status_code == 302
    everything.refresh_from_db()
    assert everything.state == "superseded"
    fresh = OnboardingSession.objects.exclude(state="superseded").get(user=everything.user)
    assert fresh.state == "in_progress" and fresh.current_step == "profile"
    assert OnboardingEvent.objects.filter(session=everything, name="reset", source="admin").exists()


def test_the_redispatch_action_sends_pending_messages_again(staff, everything):
    message = OutboxMessage.objects.get(session=everything)
    assert message.state == "pending"
    attempts = message.attempts
    response = staff.post(
        reverse("admin:onboarding_outboxmessage_changelist"),
        {
            "action": "redispatch",
            "_selected_action": [str(message.pk)],
        },
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.attempts == attempts + 1
    assert message.dispatched_at is not None


def test_the_funnel_page_draws_the_drop_off_as_svg(staff, everything):
    response = staff.get(reverse("admin:onboarding_funnel"))
    assert response.status_code == 200
    html = response.content.decode()
    chart = html[html.index('<svg role="img"') :]
    chart = chart[: chart.index("</svg>")]
    assert "<script" not in chart  # server-rendered: no JavaScript draws it
    assert chart.count('class="bar-done"') == 6
    assert "Invite teammates" in html and "% drop-off" in html
    assert response.context["sessions"] == 2


def test_the_funnel_page_filters_by_start_date(staff, everything):
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = staff.get(reverse("admin:onboarding_funnel"), {"started_after": tomorrow.isoformat()})
    assert response.status_code == 200
    assert response.context["sessions"] == 0
    today = staff.get(reverse("admin:onboarding_funnel"), {"started_before": timezone.localdate().isoformat()})
    assert today.context["sessions"] == 2


def test_the_funnel_page_has_a_last_hour_view(staff, everything):
    OnboardingSession.objects.filter(user__username="halfway").update(started_at=timezone.now() - timedelta(hours=2))
    page = staff.get(reverse("admin:onboarding_funnel"))
    assert 'href="?last=hour"' in page.content.decode()
    response = staff.get(reverse("admin:onboarding_funnel"), {"last": "hour"})
    assert response.status_code == 200
    assert response.context["sessions"] == 1  # the walk-through just now; the half-way session started 2 h ago
    assert "started in the last hour" in response.content.decode()


def test_the_funnel_page_shows_friction_per_step_as_columns_and_markers(staff, everything):
    session = OnboardingSession.objects.get(user__username="halfway")
    OnboardingEvent.objects.create(
        session=session, user=session.user, name="validation_failed", step="tools", source="wizard"
    )
    response = staff.get(reverse("admin:onboarding_funnel"))
    html = response.content.decode()
    assert "Validation failures" in html and "Queued saves" in html
    assert html.count('class="friction-marker"') == 1
    tools = response.context["steps"][2]
    assert (tools.validation_failures, tools.friction) == (1, 1)


def test_the_funnel_page_shows_a_bad_window_as_a_form_error(staff, everything):
    response = staff.get(reverse("admin:onboarding_funnel"), {"started_after": "not-a-date"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_the_funnel_is_linked_from_the_admin_index_and_the_sessions_list(staff, everything):
    funnel = reverse("admin:onboarding_funnel")
    assert funnel == "/admin/onboarding/funnel/"
    assert f'href="{funnel}"' in staff.get(reverse("admin:index")).content.decode()
    assert f'href="{funnel}"' in staff.get(reverse("admin:onboarding_onboardingsession_changelist")).content.decode()


def test_the_funnel_page_is_for_staff_only(client, outsider):
    client.force_login(outsider)
    response = client.get("/admin/onboarding/funnel/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:aggregation_answersnapshot_changelist",
        "admin:onboarding_onboardingevent_changelist",
        "admin:onboarding_outboxmessage_changelist",
        "admin:aggregation_answergrouptotal_changelist",
    ],
)
@pytest.mark.parametrize("term", ["ada", "42", "0d5f1a3e-1234-4abc-8def-0123456789ab"])
def test_the_admin_searches_accept_any_text(staff, everything, url_name, term):
    assert staff.get(reverse(url_name), {"q": term}).status_code == 200


def test_a_snapshot_is_found_by_its_session_id(staff, everything):
    response = staff.get(reverse("admin:aggregation_answersnapshot_changelist"), {"q": str(everything.pk)})
    assert response.context["cl"].result_count == 1


def test_the_snapshot_list_counts_exactly_when_the_table_is_small(staff, everything):
    response = staff.get(reverse("admin:aggregation_answersnapshot_changelist"))
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("term", ["ada", "ad", "ADA@example.org"])
def test_a_snapshot_is_found_by_its_users_username_prefix_or_exact_email(staff, everything, term):
    response = staff.get(reverse("admin:aggregation_answersnapshot_changelist"), {"q": term})
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("term", ["da", "ada@example", "example.org"])
def test_the_search_matches_no_substring_of_a_username_or_address(staff, everything, term):
    assert (
        staff.get(reverse("admin:aggregation_answersnapshot_changelist"), {"q": term}).context["cl"].result_count == 0
    )
