"""The API side of Idempotency-Key (CONTRACT §3): read the header, fingerprint the request.

The services look the key up and store the answer in the write's own transaction
(``onboarding.services.idempotency``); a repeat surfaces as IdempotentReplay, which the
exception handler answers with the stored status and body.
"""

import hashlib
import json

from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions

from .. import services
from .errors import domain_error_answer
from .progress import progress_document

HEADER = "Idempotency-Key"
MAX_LENGTH = 255

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "At most 255 characters, one per logical write. A repeat by the same user within 24 hours answers the "
        "first response again (same status and body) and writes nothing; the same key with a different request "
        "is a `422` `idempotency_key_reused`."
    ),
)


def idempotent_request(request) -> services.IdempotentRequest | None:
    """Return the request's Idempotency-Key and fingerprint, or None when it sent no key."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_LENGTH:
        raise exceptions.ValidationError({HEADER: f"Use at most {MAX_LENGTH} characters."})
    # What makes two requests "the same": where they went and what they said (the revision included).
    canonical = json.dumps(
        {
            "method": request.method,
            "path": request.path,
            "body": request.data,
            "if_match": request.headers.get("If-Match", ""),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return services.IdempotentRequest(
        key=key,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
        answer=lambda session: (200, progress_document(session)),
        refused=lambda error: domain_error_answer(error, user=request.user)[:2],
    )
