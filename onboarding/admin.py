"""Django admin for onboarding: sessions (read-only, with a reset action), telemetry, the outbox,
and waffle's flags with the re-decision of an onboarding flag for the sessions in progress.

Admin actions are thin edges: they call the services (``session_restart``, ``outbox_dispatch``)
or queue a task that does, never write rows themselves. The funnel page lives in
``adminapi.admin`` (it reads ``adminapi``).
"""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from waffle import get_waffle_flag_model
from waffle.admin import FlagAdmin

from . import services
from .admin_changelists import ScaledChangeListMixin, fixed_choices_filter, indexed_search, step_filter
from .brute_force import client_address
from .manifest import MANIFEST_FLAGS, STEPS, display_value
from .models import (
    AnswersAccess,
    Invitation,
    OnboardingEvent,
    OnboardingSession,
    OutboxMessage,
    Workspace,
    WorkspaceMembership,
)
from .selectors import sessions_in_flight
from .tasks import flag_redecide_in_flight_task
from .templatetags.onboarding_admin import minutes_seconds


def answers_table(answers: dict, *, skipped_steps=()):
    """Render answers as a per-step table with the wizard's labels and values; every value is escaped."""
    answers = answers or {}
    rows = []
    for step in STEPS:
        fields = answers.get(step.key)
        if fields is None:
            status = "skipped" if step.key in skipped_steps else "not answered"
            rows.append(
                format_html(
                    '<tr><th scope="rowgroup" colspan="2" class="onb-step">{}</th></tr>'
                    '<tr><td colspan="2" class="onb-missing">{}</td></tr>',
                    step.title,
                    status,
                )
            )
            continue
        labels = {name: str(field.label) for name, field in step.form_class.base_fields.items()}
        body = format_html_join(
            "",
            '<tr><td class="onb-label">{}</td><td>{}</td></tr>',
            ((labels.get(name, name), display_value(step.key, name, value)) for name, value in fields.items()),
        )
        rows.append(
            format_html('<tr><th scope="rowgroup" colspan="2" class="onb-step">{}</th></tr>{}', step.title, body)
        )
    return format_html(
        '<table class="onb-answers"><tbody>{}</tbody></table>', format_html_join("", "{}", ((row,) for row in rows))
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the services: staff look, never edit."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # A row is never edited here: the services are its only writer. The change permission on
        # the changelist (obj is None) only gates the actions, and those call the services.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


class AnswersAccessLoggedMixin:
    """A change page that shows one person's answers: each view of it is recorded in the access log."""

    access_surface: str = ""

    def access_subject(self, obj) -> int:
        return obj.user_id

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                services.answers_access_record(
                    viewer=request.user,
                    subject_user_id=self.access_subject(obj),
                    surface=self.access_surface,
                    object_ref=str(obj.pk),
                    client_address=client_address(request),
                )
        return response


SEARCH_HELP = "A session id, an e-mail address (exact), or the start of a username."


def _onboarding_versions():
    return [(str(v), str(v)) for v in range(1, settings.ONBOARDING_VERSION + 1)]


@admin.register(OnboardingSession)
class OnboardingSessionAdmin(AnswersAccessLoggedMixin, ScaledChangeListMixin, ReadOnlyAdmin):
    access_surface = AnswersAccess.Surface.SESSION_ADMIN
    list_display = ("user", "state", "current_step", "version", "started_at", "updated_at", "completed_at")
    list_filter = (
        "state",  # model choices: no query
        step_filter("current_step", title="current step"),
        fixed_choices_filter("version", "version", _onboarding_versions),
    )
    search_fields = ("user__username",)  # shows the search box; get_search_results does the lookup
    search_help_text = SEARCH_HELP
    list_select_related = ("user",)
    # Newest first by start (index onb_session_started); updated_at has no index of its own.
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    change_list_template = "admin/onboarding/onboardingsession/change_list.html"  # adds the Funnel link
    actions = ["reset_onboarding"]
    fields = (
        "id",
        "user",
        "state",
        "current_step",
        "version",
        "answer_schema_version",
        "revision",
        "started_at",
        "updated_at",
        "completed_at",
        "last_event_at",
        "flags",
        "progress",
        "answers_table",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        return indexed_search(queryset, search_term, session_field="pk", user_field="user_id"), False

    @admin.display(description="Flags (decided when it started)")
    def flags(self, obj):
        decided = sorted(obj.flags.items())
        return format_html_join(", ", "{}: {}", ((name, "on" if on else "off") for name, on in decided)) or "—"

    @admin.display(description="Progress")
    def progress(self, obj):
        return format_html(
            "Done: {} · Skipped: {}", ", ".join(obj.completed_steps) or "—", ", ".join(obj.skipped_steps) or "—"
        )

    @admin.display(description="Answers")
    def answers_table(self, obj):
        return answers_table(obj.answers, skipped_steps=obj.skipped_steps)

    @admin.action(description="Reset onboarding for the selected users (start them over)", permissions=["change"])
    def reset_onboarding(self, request, queryset):
        users = {session.user for session in queryset.select_related("user")}
        for user in users:
            services.session_restart(user=user, source=OnboardingEvent.Source.ADMIN)
        self.message_user(
            request,
            ngettext("Onboarding was reset for %d user.", "Onboarding was reset for %d users.", len(users))
            % len(users),
            messages.SUCCESS,
        )


@admin.register(OnboardingEvent)
class OnboardingEventAdmin(ScaledChangeListMixin, ReadOnlyAdmin):
    list_display = ("created_at", "name", "step", "source", "duration", "user_id", "session_id")
    list_filter = (
        fixed_choices_filter("name", "name", OnboardingEvent.Name.choices),
        fixed_choices_filter("source", "source", OnboardingEvent.Source.choices),
        step_filter(parameter_name="step"),
    )
    search_fields = ("session_id",)
    search_help_text = SEARCH_HELP
    date_hierarchy = "created_at"
    ordering = ("-created_at",)  # index onb_event_time_name
    readonly_fields = ("session_id", "user_id", "name", "step", "source", "duration_ms", "detail", "created_at")
    fields = readonly_fields

    def get_search_results(self, request, queryset, search_term):
        return indexed_search(queryset, search_term, session_field="session_id", user_field="user_id"), False

    @admin.display(description=_("duration"))
    def duration(self, event):
        """The time since the session's previous event, in minutes and seconds."""
        return minutes_seconds(event.duration_ms) or "—"


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ScaledChangeListMixin, ReadOnlyAdmin):
    list_display = ("id", "topic", "session_id", "state", "attempts", "created_at", "dispatched_at", "delivered_at")
    list_filter = (
        "state",  # model choices: no query
        fixed_choices_filter(
            "topic", "topic", [(OutboxMessage.TOPIC_SESSION_COMPLETED, OutboxMessage.TOPIC_SESSION_COMPLETED)]
        ),
    )
    search_fields = ("session_id",)
    search_help_text = SEARCH_HELP
    ordering = ("-id",)  # newest first by the primary key (created_at has no index)
    actions = ["redispatch"]
    readonly_fields = (
        "id",
        "topic",
        "session_id",
        "state",
        "attempts",
        "last_error",
        "payload",
        "created_at",
        "dispatched_at",
        "delivered_at",
    )
    fields = readonly_fields

    def get_search_results(self, request, queryset, search_term):
        return indexed_search(queryset, search_term, session_field="session_id", user_field="session__user_id"), False

    @admin.action(description="Dispatch the selected pending messages again", permissions=["change"])
    def redispatch(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        sent = services.outbox_dispatch(message_ids=ids)
        level = messages.SUCCESS if sent == len(ids) else messages.WARNING
        self.message_user(
            request,
            f"Dispatched {sent} of {len(ids)} selected messages (only pending messages are sent; "
            "a broker failure leaves them pending for the sweep).",
            level,
        )


class MembershipInline(admin.TabularInline):
    model = WorkspaceMembership
    extra = 0
    fields = ("user", "role", "joined_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "joinable", "created_by", "created_at")
    list_filter = ("joinable",)
    search_fields = ("name", "slug")
    list_select_related = ("created_by",)
    readonly_fields = ("created_by", "created_at")
    inlines = [MembershipInline]


@admin.register(WorkspaceMembership)
class WorkspaceMembershipAdmin(admin.ModelAdmin):
    list_display = ("workspace", "user", "role", "joined_at")
    list_filter = ("role",)
    search_fields = ("workspace__name", "workspace__slug", "user__username", "user__email")
    list_select_related = ("workspace", "user")
    raw_id_fields = ("workspace", "user")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "workspace", "role", "invited_by", "created_at")
    list_filter = ("role",)
    search_fields = ("email", "workspace__name", "workspace__slug")
    list_select_related = ("workspace", "invited_by")
    raw_id_fields = ("workspace", "invited_by")


class OnboardingFlagAdmin(FlagAdmin):
    """Waffle's flag admin, plus the re-decision of onboarding flags for the sessions in progress.

    Changing a flag here changes what new sessions decide; sessions in flight keep their decision
    until staff run this action (or ``manage.py redecide_onboarding_flag``).
    """

    actions = [*FlagAdmin.actions, "redecide_in_flight"]

    @admin.action(
        description="Re-decide the selected onboarding flags for the sessions in progress", permissions=["change"]
    )
    def redecide_in_flight(self, request, queryset):
        names = sorted(queryset.values_list("name", flat=True))
        ignored = [name for name in names if name not in MANIFEST_FLAGS]
        queued = [name for name in names if name in MANIFEST_FLAGS]
        for name in queued:
            flag_redecide_in_flight_task.delay(flag=name)
        if queued:
            self.message_user(
                request,
                (
                    f"Re-deciding {', '.join(queued)} for {sessions_in_flight().count()} sessions in progress. A session "
                    "whose decision changes keeps the answers that still apply, shows a notice and records a reset event."
                ),
                messages.SUCCESS,
            )
        if ignored:
            self.message_user(request, f"Not used by onboarding, left alone: {', '.join(ignored)}.", messages.WARNING)


_Flag = get_waffle_flag_model()
if admin.site.is_registered(_Flag):  # waffle.admin registered its own (waffle comes first in INSTALLED_APPS)
    admin.site.unregister(_Flag)
admin.site.register(_Flag, OnboardingFlagAdmin)


@admin.register(AnswersAccess)
class AnswersAccessAdmin(ReadOnlyAdmin):
    """The access log: superusers read it; nobody adds, changes or deletes a record here."""

    list_display = ("accessed_at", "viewer_username", "subject_user_id", "surface", "object_ref", "client_address")
    list_filter = ("surface",)
    search_fields = ("=subject_user_id", "=viewer_username")
    search_help_text = "A subject's user id or a viewer's username (exact)."
    date_hierarchy = "accessed_at"
    ordering = ("-accessed_at",)
    fields = (
        "accessed_at",
        "viewer_id",
        "viewer_username",
        "subject_user_id",
        "surface",
        "object_ref",
        "client_address",
    )
    readonly_fields = fields

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return False
