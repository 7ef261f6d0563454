"""Django admin for the analytics store: snapshots, totals and export runs, all read-only.

Every row here is written by the ingestion, the backfill or the export; staff look, never edit.
The sessions' admin gains the personal-data actions here (erase, download), because the erasure
lives in aggregation, above onboarding.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from onboarding.admin import SEARCH_HELP, AnswersAccessLoggedMixin, OnboardingSessionAdmin, ReadOnlyAdmin, answers_table
from onboarding.admin_changelists import ScaledChangeListMixin, fixed_choices_filter, indexed_search, step_filter
from onboarding.brute_force import client_address
from onboarding.manifest import ANSWER_SCHEMA_VERSION, get_step
from onboarding.models import AnswersAccess, OnboardingSession
from onboarding.selectors import workspace_id_for
from onboarding.services import answers_access_record

from .erasure import ErasureReason, onboarding_user_erase
from .models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot, ExportRun
from .subject_access import onboarding_subject_document

# The manifest's roles (a plain field filter would run SELECT DISTINCT over every snapshot).
RoleFilter = fixed_choices_filter(
    "role",
    "role",
    lambda: get_step("profile").form_class.base_fields["role"].choices,
    parameter_name="role",
)


class WorkspaceFilter(admin.SimpleListFilter):
    """A workspace by id or slug, typed in (thousands of workspaces make a poor link list)."""

    title = "workspace (id or slug)"
    parameter_name = "workspace"
    template = "admin/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # a filter without lookups is not shown; the template renders an input

    def choices(self, changelist):
        keep = [
            (key, value)
            for key, values in changelist.params.items()
            if key not in (self.parameter_name, "p")
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
            "query_parts": keep,
        }

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        workspace_id = workspace_id_for(value)  # the staff API's rule: digits are an id first, then a slug
        return queryset.none() if workspace_id is None else queryset.filter(workspace_id=workspace_id)


SchemaVersionFilter = fixed_choices_filter(
    "answer_schema_version",
    "answer schema version",
    [(str(v), str(v)) for v in range(1, ANSWER_SCHEMA_VERSION + 1)],
    parameter_name="answer_schema_version",
)


@admin.register(AnswerSnapshot)
class AnswerSnapshotAdmin(AnswersAccessLoggedMixin, ScaledChangeListMixin, ReadOnlyAdmin):
    access_surface = AnswersAccess.Surface.SNAPSHOT_ADMIN
    list_display = ("session_id", "user", "role", "workspace", "answer_schema_version", "completed_at")
    list_filter = (RoleFilter, WorkspaceFilter, SchemaVersionFilter)
    search_fields = ("session_id",)  # shows the search box; get_search_results does the lookup
    search_help_text = SEARCH_HELP
    list_select_related = ("user", "workspace")
    date_hierarchy = "completed_at"
    ordering = ("-completed_at", "-session_id")

    class Media:
        css = {"all": ["onboarding/admin.css"]}  # the workspace filter's text box (no inline styles: CSP)

    fields = (
        "session_id",
        "user",
        "workspace",
        "role",
        "answer_schema_version",
        "completed_at",
        "ingested_at",
        "flags",
        "answers_table",
    )
    readonly_fields = fields

    @admin.display(description="Answers")
    def answers_table(self, obj):
        return answers_table(obj.answers)

    def get_search_results(self, request, queryset, search_term):
        return indexed_search(queryset, search_term, session_field="session_id", user_field="user_id"), False


StepFilter = step_filter(parameter_name="step")  # the manifest's steps, in its order


@admin.register(AnswerGroupTotal)
class AnswerGroupTotalAdmin(ReadOnlyAdmin):
    list_display = ("step", "question", "answer", "count")
    list_filter = (StepFilter, "question")  # a small table: DISTINCT questions are cheap
    search_fields = ("answer", "question")
    ordering = ("step", "question", "-count", "answer")
    fields = ("step", "question", "answer", "count")
    readonly_fields = fields


@admin.register(AnswerArmTotal)
class AnswerArmTotalAdmin(ReadOnlyAdmin):
    list_display = ("flag", "arm", "step", "question", "answer", "count")
    list_filter = ("flag", "arm", StepFilter, "question")
    search_fields = ("answer", "question")
    ordering = ("flag", "arm", "step", "question", "-count", "answer")
    fields = ("flag", "arm", "step", "question", "answer", "count")
    readonly_fields = fields


@admin.register(ExportRun)
class ExportRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "full", "window_start", "window_end", "rows", "started_at", "finished_at")
    list_filter = ("status", "full")
    ordering = ("-started_at",)
    fields = (
        "status",
        "full",
        "window_start",
        "window_end",
        "location",
        "rows",
        "files",
        "error",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields


class OnboardingSessionPersonalDataAdmin(OnboardingSessionAdmin):
    """The sessions' admin with the personal-data actions: erase a person (confirmed), download their data."""

    actions = [*OnboardingSessionAdmin.actions, "erase_onboarding_data", "download_onboarding_data"]

    def has_erase_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser  # destructive: superusers only

    @admin.action(description=gettext_lazy("Erase the selected people's onboarding data…"), permissions=["erase"])
    def erase_onboarding_data(self, request, queryset):
        users = list(get_user_model().objects.filter(pk__in=queryset.values("user_id")).order_by("pk"))
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(
                request,
                "admin/onboarding/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Erase onboarding data?"),
                    "opts": self.model._meta,
                    "users": users,
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        erased = sum(onboarding_user_erase(user_id=user.pk, reason=ErasureReason.REQUEST).erased for user in users)
        self.message_user(
            request,
            ngettext(
                "Erased the onboarding data of %(count)d person.",
                "Erased the onboarding data of %(count)d people.",
                erased,
            )
            % {"count": erased},
            messages.SUCCESS,
        )
        return None

    @admin.action(
        description=gettext_lazy("Download the selected person's onboarding data (JSON)"), permissions=["view"]
    )
    def download_onboarding_data(self, request, queryset):
        user_ids = set(queryset.values_list("user_id", flat=True))
        if len(user_ids) != 1:
            self.message_user(request, _("Select the sessions of exactly one person to download."), messages.ERROR)
            return None
        user = get_user_model().objects.get(pk=user_ids.pop())
        document = onboarding_subject_document(user=user)
        answers_access_record(
            viewer=request.user,
            subject_user_id=user.pk,
            surface=AnswersAccess.Surface.SUBJECT_EXPORT,
            client_address=client_address(request),
        )
        response = HttpResponse(
            json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="onboarding-data-user-{user.pk}.json"'
        return response


admin.site.unregister(OnboardingSession)
admin.site.register(OnboardingSession, OnboardingSessionPersonalDataAdmin)
