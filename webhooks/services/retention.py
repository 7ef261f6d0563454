"""Retention of webhook attempts: deleted in batches once older than ONBOARDING_RETENTION_WEBHOOK_ATTEMPTS_DAYS."""

from datetime import datetime

from ..models import WebhookAttempt


def attempts_purge(*, older_than: datetime, batch: int) -> int:
    """Delete delivery attempts that started before ``older_than``, ``batch`` rows per statement; return how many."""
    deleted = 0
    while ids := list(WebhookAttempt.objects.filter(started_at__lt=older_than).values_list("pk", flat=True)[:batch]):
        deleted += WebhookAttempt.objects.filter(pk__in=ids).delete()[0]
    return deleted
