"""The browser client's owner check: a write kept on a device is sent only under its own user's login.

The browser's outbox outlives a login: a write kept for one user may be sent after another user
signed in on the same browser (in another tab, or after the first login lapsed). Each request it
sends names the user it was made for in ``X-Onboarding-User``; a request naming anyone but the
signed-in user is refused (``403 owner_mismatch``) and writes nothing. Clients that don't send the
header (SPA clients, scripts) are not affected.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

OWNER_HEADER = "X-Onboarding-User"


class OwnerHeaderMatches(BasePermission):
    message = _("This was saved for another account than the one signed in: log in again as that user to send it.")
    code = "owner_mismatch"

    def has_permission(self, request, view):
        owner = request.headers.get(OWNER_HEADER)
        if owner is None or not request.user or not request.user.is_authenticated:
            return True
        return owner.strip() == str(request.user.pk)
