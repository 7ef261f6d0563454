"""The "changed elsewhere" fragment the browser client shows after a conflict or a save in another tab."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..manifest import STEP_KEYS
from ..selectors import session_live_for_user
from ..services import changed_fields_since
from .presentation import changed_fields_display


@never_cache
@require_GET
@login_required
def step_changes(request, step):
    """Render the conflict notice of the wizard page for what changed since ``?since=<revision>``.

    The same template as the 409 page, so the texts and ``aria-*`` are the server's; each changed
    field carries ``data-step`` and ``data-field`` so the client can tell whether its step is touched.
    """
    session = session_live_for_user(request.user)
    if step not in STEP_KEYS or session is None or session.is_completed:
        raise Http404("No onboarding step to compare.")
    since = request.GET.get("since", "")[:100]
    changed = changed_fields_since(session, since) if since and since != session.revision else []
    conflict = {"fields": changed_fields_display(session, changed), "missing_revision": False}
    return render(request, "onboarding/_conflict.html", {"conflict": conflict, "revision": session.revision})
