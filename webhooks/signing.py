"""Signatures of the Standard Webhooks specification, made with its maintained package.

``webhook-signature`` holds one ``v1,<base64>`` signature per secret in use, separated by spaces:
after a rotation the previous secret signs too until its overlap ends, so a receiver that still
has the old secret keeps verifying while it is updated.
"""

import base64
import secrets
from datetime import datetime

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def secret_generate() -> str:
    """Return a new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_secrets(endpoint, *, now: datetime | None = None) -> list[str]:
    """Return the secrets that sign for ``endpoint`` now: the current one, and the previous during its overlap."""
    now = now or timezone.now()
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        found.append(endpoint.previous_secret)
    return found


def signed_headers(*, secrets_in_use: list[str], webhook_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """Return the webhook-id, webhook-timestamp and webhook-signature headers of one attempt."""
    signatures = " ".join(Webhook(secret).sign(msg_id=webhook_id, timestamp=at, data=body) for secret in secrets_in_use)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
