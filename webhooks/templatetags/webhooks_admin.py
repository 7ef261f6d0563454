"""The admin index's notice of webhook endpoints the delivery disabled."""

from django import template

from ..selectors import endpoints_disabled_automatically

register = template.Library()


@register.inclusion_tag("admin/webhooks/disabled_notice.html")
def webhook_disabled_notice():
    return {"endpoints": list(endpoints_disabled_automatically()[:20])}
