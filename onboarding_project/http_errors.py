"""Django's error pages, except under /api/: there every error body is JSON (``{"detail", "code"}``).

DRF answers the errors its views raise; these cover what never reaches a DRF view: a URL that
matches nothing (a non-numeric id included), a request refused before any view, and an exception
nothing handled (500). An unhandled error *of the database connection* (PostgreSQL down or cut
off, no pooled connection within DATABASE_POOL_TIMEOUT) is no bug of ours: it answers 503 with
Retry-After, which the browser client retries and queues like any other failed save.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views import defaults

RETRY_AFTER_SECONDS = 10

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": _("The request could not be understood."), "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        body = {"detail": _("You do not have permission to perform this action."), "code": "permission_denied"}
        return JsonResponse(body, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": _("Not found."), "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Called from inside Django's handling of the exception, so the exception is the current one.
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        return service_unavailable(request)
    if _is_api(request):
        return JsonResponse({"detail": _("A server error occurred."), "code": "server_error"}, status=500)
    return defaults.server_error(request)


def service_unavailable(request):
    """Answer 503: the database cannot be reached. The page needs no database (no user, no session)."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _is_api(request):
        body = {"detail": _("The service is briefly unavailable. Try again in a moment."), "code": "unavailable"}
        return JsonResponse(body, status=503, headers=headers)
    return HttpResponse(loader.render_to_string("503.html"), status=503, headers=headers)
