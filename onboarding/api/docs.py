"""The OpenAPI schema and its two documentation pages: staff-only in production, each page with the CSP it needs.

Swagger UI is served in two requests (the page, then its start-up script from ``?script``) so that
the page runs no inline script; it and Redoc still write inline styles and load images from
``data:`` URLs (Redoc also starts a web worker from a ``blob:``), so their pages replace those
directives of the site's policy and nothing else: scripts stay ``'self'``.
"""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission

DOCS_PAGE_POLICY = {"style-src": [UNSAFE_INLINE], "img-src": ["data:"], "worker-src": ["blob:"]}


class ApiDocsAccess(BasePermission):
    """Anybody while API_DOCS_STAFF_ONLY is off (development); else only active staff."""

    def has_permission(self, request, view):
        if not settings.API_DOCS_STAFF_ONLY:
            return True
        return bool(request.user and request.user.is_active and request.user.is_staff)


class SchemaApi(SpectacularAPIView):
    permission_classes = [ApiDocsAccess]


@method_decorator(csp_update(DOCS_PAGE_POLICY), name="dispatch")
class SwaggerPage(SpectacularSwaggerSplitView):
    permission_classes = [ApiDocsAccess]


@method_decorator(csp_update(DOCS_PAGE_POLICY), name="dispatch")
class RedocPage(SpectacularRedocView):
    permission_classes = [ApiDocsAccess]


# The request bodies whose views refuse keys they do not know (400 naming each): the schema says so too,
# so clients and schema-driven tools do not send them.
STRICT_REQUEST_BODIES = (("/api/users/me/onboarding-progress", "patch"), ("/api/onboarding/events", "post"))


def forbid_unknown_request_keys(result, generator, request, public):
    """Mark the strict request bodies ``additionalProperties: false`` (a drf-spectacular post-processing hook)."""
    schemas = result.get("components", {}).get("schemas", {})
    for path, method in STRICT_REQUEST_BODIES:
        operation = result.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schemas[reference.rsplit("/", 1)[1]]["additionalProperties"] = False
    return result
