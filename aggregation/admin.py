"""Django admin for the analytics store: snapshots, totals and export runs, all read-only.

Every row here is written by the ingestion, the backfill or the export; staff look, never edit.
"""
import uuid

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils.functional import cached_property

from onboarding.admin import ReadOnlyAdmin, answers_table
from onboarding.manifest import ANSWER_SCHEMA_VERSION, STEP_KEYS, get_step
from onboarding.selectors import workspace_id_for

from .models import AnswerArmTotal, AnswerGroupTotal, AnswerSnapshot, ExportRun


class EstimatedCountPaginator(Paginator):
    """Use PostgreSQL's row estimate for an unfiltered list of a big table (COUNT(*) reads it all)."""

    EXACT_BELOW = 100_000

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= self.EXACT_BELOW:
                return row[0]
        return super().count


class RoleFilter(admin.SimpleListFilter):
    """The manifest's roles (a plain field filter would run SELECT DISTINCT over every snapshot)."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return get_step("profile").form_class.base_fields["role"].choices

    def queryset(self, request, queryset):
        return queryset.filter(role=self.value()) if self.value() else queryset


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
            for key, values in changelist.params.items() if key not in (self.parameter_name, "p")
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


class SchemaVersionFilter(admin.SimpleListFilter):
    title = "answer schema version"
    parameter_name = "answer_schema_version"

    def lookups(self, request, model_admin):
        return [(str(v), str(v)) for v in range(1, ANSWER_SCHEMA_VERSION + 1)]

    def queryset(self, request, queryset):
        return queryset.filter(answer_schema_version=int(self.value())) if self.value() else queryset


@admin.register(AnswerSnapshot)
class AnswerSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("session_id", "user", "role", "workspace", "answer_schema_version", "completed_at")
    list_filter = (RoleFilter, WorkspaceFilter, SchemaVersionFilter)
    search_fields = ("session_id",)  # shows the search box; get_search_results does the lookup
    search_help_text = "An exact session id, username or e-mail address."
    list_select_related = ("user", "workspace")
    date_hierarchy = "completed_at"
    ordering = ("-completed_at", "-session_id")
    show_full_result_count = False  # millions of rows: skip the unfiltered COUNT(*) on filtered pages
    paginator = EstimatedCountPaginator
    fields = (
        "session_id", "user", "workspace", "role", "answer_schema_version", "completed_at", "ingested_at", "flags",
        "answers_table",
    )
    readonly_fields = fields

    @admin.display(description="Answers")
    def answers_table(self, obj):
        return answers_table(obj.answers)

    def get_search_results(self, request, queryset, search_term):
        """Match a session id, or a user's exact username or e-mail, through indexes.

        The default OR of substring matches over a join would scan every snapshot.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(session_id=uuid.UUID(term)), False
        except ValueError:
            users = get_user_model().objects.filter(Q(username=term) | Q(email__iexact=term)).values("pk")
            return queryset.filter(user_id__in=users), False


class StepFilter(admin.SimpleListFilter):
    """Steps in manifest order (a plain field filter would sort them alphabetically)."""

    title = "step"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        return [(key, key) for key in STEP_KEYS]

    def queryset(self, request, queryset):
        return queryset.filter(step=self.value()) if self.value() else queryset


@admin.register(AnswerGroupTotal)
class AnswerGroupTotalAdmin(ReadOnlyAdmin):
    list_display = ("step", "question", "answer", "count")
    list_filter = (StepFilter, "question")
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
        "status", "full", "window_start", "window_end", "location", "rows", "files", "error", "started_at",
        "finished_at",
    )
    readonly_fields = fields
