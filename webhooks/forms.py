"""Staff forms of the webhooks admin: an endpoint (checked URL, known event types), and a date to resend from."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .events import EVENT_TYPE_CHOICES
from .models import WebhookEndpoint
from .services import InvalidWebhookEndpoint, events_check, url_check


class WebhookEndpointForm(forms.ModelForm):
    # A plain CharField: the service, not URLField's own rules, decides which URLs are accepted, and says why.
    url = forms.CharField(label=_("URL"), max_length=2000)
    events = forms.MultipleChoiceField(
        label=_("Event types"), choices=EVENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events"]

    def clean_url(self):
        try:
            return url_check(self.cleaned_data["url"].strip())
        except InvalidWebhookEndpoint as exc:
            raise forms.ValidationError(str(exc), code="refused_url") from exc

    def clean_events(self):
        try:
            return events_check(self.cleaned_data["events"])
        except InvalidWebhookEndpoint as exc:
            raise forms.ValidationError(str(exc), code="unknown_event") from exc


class RedeliverSinceForm(forms.Form):
    since = forms.DateTimeField(
        label=_("Resend every event since"),
        help_text=_("A date or date and time (UTC), e.g. 2026-11-30 or 2026-11-30 14:00."),
    )
