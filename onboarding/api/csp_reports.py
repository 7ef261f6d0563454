"""Where browsers send Content-Security-Policy violation reports: each one logged, nothing stored.

Browsers post either the ``report-uri`` format (``{"csp-report": {...}}``, application/csp-report)
or the Reporting API's (a list of ``{"type": "csp-violation", "body": {...}}``). Anybody can post
here, so a report is read as untrusted text: a few fields, each cut short, at most
CSP_REPORT_THROTTLE_RATE per client address (beyond it the report is dropped, still 204).
"""

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.throttling import SimpleRateThrottle

from ..brute_force import client_address

logger = logging.getLogger(__name__)

FIELDS = ("document-uri", "violated-directive", "effective-directive", "blocked-uri", "source-file", "line-number")
CAMEL = {"documentURL": "document-uri", "effectiveDirective": "effective-directive", "blockedURL": "blocked-uri"}
CAMEL.update({"sourceFile": "source-file", "lineNumber": "line-number"})


class CspReportThrottle(SimpleRateThrottle):
    scope = "csp_report"

    def get_rate(self):
        return settings.CSP_REPORT_THROTTLE_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


def _violations(payload) -> list[dict]:
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        bodies = [
            item.get("body") for item in payload if isinstance(item, dict) and item.get("type") == "csp-violation"
        ]
        return [
            {CAMEL.get(key, key): value for key, value in body.items()} for body in bodies if isinstance(body, dict)
        ]
    return []


@csrf_exempt
@require_POST
def csp_report(request):
    """Log each violation in the posted report; answer 204 whatever was posted."""
    if not CspReportThrottle().allow_request(request, None):
        return HttpResponse(status=204)
    try:
        payload = json.loads(request.body.decode("utf-8", errors="replace") or "null")
    except (RequestDataTooBig, ValueError):
        return HttpResponse(status=204)
    for violation in _violations(payload)[:10]:
        fields = {name: str(violation.get(name, ""))[:200] for name in FIELDS}
        logger.warning(
            "csp violation: %s blocked %s on %s (%s:%s)",
            fields["effective-directive"] or fields["violated-directive"],
            fields["blocked-uri"],
            fields["document-uri"],
            fields["source-file"],
            fields["line-number"],
        )
    return HttpResponse(status=204)
