"""The one DRF exception handler: domain errors and DRF's own errors as ``{"detail", "code", ...}``.

Every error body of the API (and of the staff API that reuses this handler) has a human
``detail`` and a machine ``code``; some add fields:

- ``validation_failed`` (400): ``issues`` [{step, field, code, message}], and ``blocking_step``
  when the services name the step that blocks (completion, an unreached step);
- ``revision_conflict`` (409): ``current`` (the progress now) and ``changed_fields`` [{step, field}];
- ``already_completed`` (409): ``current``;
- ``throttled`` (429): ``retry_after`` in seconds (also the ``Retry-After`` header).
"""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ..errors import (
    IdempotencyKeyReused,
    OnboardingError,
    RevisionConflict,
    SessionAlreadyCompleted,
    StepValidationError,
)
from ..selectors import session_live_for_user
from .parsers import RequestTooLarge
from .progress import progress_document

INPUT_INVALID_DETAIL = "Some input is invalid."


def api_exception_handler(exc, context):
    """Map ``exc`` to a JSON error response, or return None to let Django answer 500."""
    if isinstance(exc, OnboardingError):
        return _domain_error_response(exc, context)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    response = exception_handler(exc, context)  # sets WWW-Authenticate and Retry-After headers
    if response is not None:
        response.data = api_error_body(exc)
    return response


def api_error_body(exc: exceptions.APIException) -> dict:
    """Return the ``{"detail", "code", ...}`` body of a DRF exception."""
    if isinstance(exc, exceptions.ValidationError):
        return {"detail": INPUT_INVALID_DETAIL, "code": "validation_failed", "issues": _issues(exc.detail)}
    detail = exc.detail
    if isinstance(detail, dict):  # simplejwt: {"detail": ..., "code": ..., "messages": [...]}
        message = detail.get("detail", exc.default_detail)
        code = detail.get("code") or getattr(message, "code", None) or exc.default_code
    elif isinstance(detail, list):
        message, code = (detail[0] if detail else exc.default_detail), exc.default_code
    else:
        message, code = detail, getattr(detail, "code", None) or exc.default_code
    body = {"detail": str(message), "code": str(code)}
    if isinstance(exc, exceptions.Throttled):
        body["retry_after"] = math.ceil(exc.wait) if exc.wait is not None else None
    return body


def _issues(detail, path: str | None = None) -> list[dict]:
    """Flatten DRF's nested error detail into the API's issue list."""
    if isinstance(detail, dict):
        return [
            issue
            for key, value in detail.items()
            for issue in _issues(value, None if key == "non_field_errors" else _join(path, key))
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [_issue(path, item) for item in detail]
        return [issue for index, item in enumerate(detail) for issue in _issues(item, _join(path, str(index)))]
    return [_issue(path, detail)]


def _join(path, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _issue(field, error) -> dict:
    return {"step": None, "field": field, "code": getattr(error, "code", None) or "invalid", "message": str(error)}


def _domain_error_response(exc: OnboardingError, context) -> Response:
    status_code, body, headers = domain_error_answer(exc, user=context["request"].user)
    return Response(body, status=status_code, headers=headers)


def domain_error_answer(exc: OnboardingError, *, user) -> tuple[int, dict, dict]:
    """Return the status, body and headers that answer a refusal by the services."""
    body = {"detail": exc.message, "code": exc.code}
    headers = {}
    if isinstance(exc, IdempotencyKeyReused):
        status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    elif isinstance(exc, StepValidationError):
        body.update(issues=exc.issues, blocking_step=exc.blocking_step)
        status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, RevisionConflict):
        body.update(current=progress_document(exc.session), changed_fields=exc.changed_fields)
        headers["ETag"] = f'"{exc.session.revision}"'
        status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, SessionAlreadyCompleted):
        session = session_live_for_user(user)
        body["current"] = progress_document(session) if session else None
        if session:
            headers["ETag"] = f'"{session.revision}"'
        status_code = status.HTTP_409_CONFLICT
    else:  # RevisionRequired and any other refusal of a request as sent
        status_code = status.HTTP_400_BAD_REQUEST
    return status_code, body, headers
