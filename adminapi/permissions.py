"""Who may use the staff API."""

from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    """Allow staff (``is_staff``) only; anonymous requests are refused earlier with 401."""

    message = "Only staff can use the onboarding admin API."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
