"""Django admin for webhooks: endpoints (test event, redeliveries, disable/enable), deliveries and their attempts.

Actions are thin edges: they parse staff input and call one service each.
"""

import json
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .forms import RedeliverSinceForm, WebhookEndpointForm
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "description", "is_active", "disabled_reason", "event_types", "failing_since", "deliveries")
    list_filter = ("is_active", "disabled_reason")
    search_fields = ("url", "description")
    readonly_fields = ("secret", "previous_secret_expires_at", "is_active", "disabled_at", "disabled_reason")
    actions = ("send_test_event", "redeliver_failed", "redeliver_since", "rotate_secret", "disable", "enable")

    @admin.display(description=_("event types"))
    def event_types(self, obj):
        return ", ".join(obj.events)

    @admin.display(description=_("deliveries"))
    def deliveries(self, obj):
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("deliveries"))

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()  # the secret is made by registration

    def save_model(self, request, obj, form, change):
        if change:
            services.endpoint_update(endpoint=obj, url=obj.url, events=obj.events, description=obj.description)
            return
        registered = services.endpoint_register(url=obj.url, events=obj.events, description=obj.description)
        obj.pk, obj.secret, obj.created_at = registered.pk, registered.secret, registered.created_at
        obj._state.adding = False

    @admin.action(description=_("Send a test event (a sample onboarding.completed document)"))
    def send_test_event(self, request, queryset):
        sent = 0
        for endpoint in queryset:
            try:
                services.endpoint_send_test(endpoint=endpoint)
                sent += 1
            except services.InvalidWebhookEndpoint as exc:
                self.message_user(request, f"{endpoint}: {exc}", messages.ERROR)
        if sent:
            self.message_user(request, ngettext("Test event queued.", "%(n)d test events queued.", sent) % {"n": sent})

    @admin.action(description=_("Redeliver every failed delivery"))
    def redeliver_failed(self, request, queryset):
        count = sum(services.deliveries_redeliver_failed(endpoint=endpoint) for endpoint in queryset)
        self.message_user(request, ngettext("%(n)d delivery queued.", "%(n)d deliveries queued.", count) % {"n": count})

    @admin.action(description=_("Redeliver every event since a date…"))
    def redeliver_since(self, request, queryset):
        form = RedeliverSinceForm(request.POST if "since" in request.POST else None)
        if form.is_valid():
            since = form.cleaned_data["since"]
            count = sum(services.events_redeliver_since(endpoint=endpoint, since=since) for endpoint in queryset)
            self.message_user(
                request, ngettext("%(n)d delivery queued.", "%(n)d deliveries queued.", count) % {"n": count}
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Redeliver every event since a date"),
            "form": form,
            "endpoints": queryset,
            "action": "redeliver_since",
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/webhooks/redeliver_since.html", context)

    @admin.action(description=_("Rotate the secret (the old one keeps signing for the overlap)"))
    def rotate_secret(self, request, queryset):
        overlap = timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        for endpoint in queryset:
            services.endpoint_rotate_secret(endpoint=endpoint, overlap=overlap)
        self.message_user(
            request,
            _("New secrets made: each endpoint's page shows its own. The old ones sign too for %(hours)g hours.")
            % {"hours": settings.WEBHOOK_SECRET_OVERLAP_HOURS},
        )

    @admin.action(description=_("Disable (waiting deliveries fail)"))
    def disable(self, request, queryset):
        count = sum(services.endpoint_disable(endpoint=endpoint) for endpoint in queryset)
        self.message_user(
            request, ngettext("%(n)d endpoint disabled.", "%(n)d endpoints disabled.", count) % {"n": count}
        )

    @admin.action(description=_("Enable"))
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_enable(endpoint=endpoint)
        self.message_user(request, _("Enabled. Failed deliveries stay failed until you redeliver them."))


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("started_at", "duration_ms", "status_code", "response_excerpt", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event_type",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state", "event__type", "endpoint", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("event", "endpoint")
    search_fields = ("=event__id",)
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "event",
        "endpoint",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "retry_until",
        "last_attempt_at",
        "last_status",
        "last_error",
        "delivered_at",
        "body",
    )
    exclude = ("dispatched_at", "leased_until")

    @admin.display(description=_("webhook-id"))
    def webhook_id(self, obj):
        return obj.event.webhook_id

    @admin.display(description=_("type"), ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description=_("body"))
    def body(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.event.payload, indent=2, ensure_ascii=False))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Redeliver (same webhook-id)"))
    def redeliver(self, request, queryset):
        count = services.deliveries_redeliver(deliveries=queryset)
        skipped = queryset.count() - count
        self.message_user(request, ngettext("%(n)d delivery queued.", "%(n)d deliveries queued.", count) % {"n": count})
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d delivery skipped: its endpoint is disabled (enable it first).",
                    "%(n)d deliveries skipped: their endpoints are disabled (enable them first).",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("webhook_id", "type", "created_at", "user_id")
    list_filter = ("type", ("created_at", admin.DateFieldListFilter))
    readonly_fields = ("id", "type", "payload", "user_id", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
