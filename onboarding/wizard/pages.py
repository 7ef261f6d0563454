"""The pages around the wizard: the site root and the dashboard completed users land on."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from ..models import WorkspaceMembership


def home(request):
    """Send a signed-in user to the dashboard (the guard forwards unfinished ones) and others to log in."""
    return redirect("onboarding:dashboard" if request.user.is_authenticated else "login")


@login_required
def dashboard(request):
    """Show the user's workspace."""
    membership = (
        WorkspaceMembership.objects.filter(user=request.user).select_related("workspace").order_by("-joined_at").first()
    )
    return render(request, "onboarding/dashboard.html", {"membership": membership})
