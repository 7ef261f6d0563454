"""Idempotency-Key on the API's writes: a repeat gets the first answer, and nothing is written again.

``idempotent`` wraps a write's view method. It reads the header and fingerprints the request,
claims the key (``services.idempotency_claim``) in a transaction around the view, and keeps the
view's answer in that same transaction. A refused write (400 validation, 409 conflict) is kept
too, with the refusal the services recorded: its repeat gets the same answer and records nothing
again. The services know nothing of keys or of HTTP; the answer kept is the one this module renders.
"""

import functools
from dataclasses import dataclass

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.response import Response

from .. import services
from ..errors import OnboardingError, RevisionConflict, StepValidationError
from .digests import json_digest
from .exception_handler import domain_error_answer

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
# The refusals a repeat gets again; any other refusal of the request as sent is answered afresh.
KEPT_REFUSALS = (StepValidationError, RevisionConflict)

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


@dataclass(frozen=True)
class IdempotentRequest:
    """A write sent with an Idempotency-Key: the key and what identifies the request."""

    key: str
    fingerprint: str


def idempotent_request(request) -> IdempotentRequest | None:
    """Return the request's Idempotency-Key and fingerprint, or None when it sent no key."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_LENGTH:
        raise exceptions.ValidationError({HEADER: f"Use at most {MAX_LENGTH} characters."})
    # What makes two requests "the same": where they went and what they said (the revision included).
    request_document = {
        "method": request.method,
        "path": request.path,
        "body": request.data,
        "if_match": request.headers.get("If-Match", ""),
    }
    return IdempotentRequest(key=key, fingerprint=json_digest(request_document))


def idempotent(method):
    """Decorate a write's view method: answer a repeat of its Idempotency-Key with the first answer."""

    @functools.wraps(method)
    def view(self, request, *args, **kwargs):
        sent = idempotent_request(request)
        if sent is None:
            return method(self, request, *args, **kwargs)
        user, refusal = request.user, None
        with transaction.atomic():
            kept = services.idempotency_claim(user=user, key=sent.key, fingerprint=sent.fingerprint)
            if kept is not None:
                return _replay(kept)
            try:
                response = method(self, request, *args, **kwargs)
            except OnboardingError as error:  # the write rolled back; what the services recorded of it commits
                refusal = error
                if isinstance(error, KEPT_REFUSALS):
                    status, body, _headers = domain_error_answer(error, user=user)
                    services.idempotency_keep(user=user, key=sent.key, status=status, body=body)
                else:
                    services.idempotency_release(user=user, key=sent.key)
            else:
                services.idempotency_keep(user=user, key=sent.key, status=response.status_code, body=response.data)
        if refusal is not None:
            raise refusal  # answered by the exception handler, as without a key
        return response

    return view


def _replay(kept: services.KeptAnswer) -> Response:
    revision = kept.body.get("revision") if isinstance(kept.body, dict) else None
    return Response(kept.body, status=kept.status, headers={"ETag": f'"{revision}"'} if revision else {})
