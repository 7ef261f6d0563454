"""Django admin for the analytics store: snapshots, totals and export runs, all read-only.

Every row here is written by the ingestion, the backfill or the export; staff look, never edit.
"""
from django.contrib import admin

from onboarding.admin import ReadOnlyAdmin, answers_table
from onboarding.manifest import STEP_KEYS

from .models import AnswerGroupTotal, AnswerSnapshot, ExportRun


class WorkspaceFilter(admin.RelatedOnlyFieldListFilter):
    """Only workspaces that have snapshots (the index snap_ws_completed serves the filter)."""


@admin.register(AnswerSnapshot)
class AnswerSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("session_id", "user", "role", "workspace", "answer_schema_version", "completed_at")
    list_filter = ("role", ("workspace", WorkspaceFilter), "answer_schema_version")
    search_fields = ("=session_id", "user__username", "user__email")
    list_select_related = ("user", "workspace")
    date_hierarchy = "completed_at"
    ordering = ("-completed_at", "-session_id")
    show_full_result_count = False  # millions of rows: skip the unfiltered COUNT(*) on filtered pages
    fields = (
        "session_id", "user", "workspace", "role", "answer_schema_version", "completed_at", "ingested_at",
        "answers_table",
    )
    readonly_fields = fields

    @admin.display(description="Answers")
    def answers_table(self, obj):
        return answers_table(obj.answers)


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
