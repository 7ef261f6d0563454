"""A step submitted while signed out (login expired, logged out in another tab), kept for its owner.

Each step form carries ``owner``: the signed id of the user the page was rendered for. A submit
without a signed-in user keeps the form's data in this browser's Django session, under that
owner, and sends the browser to log in. Django's ``login()`` keeps an anonymous session's data,
so the wizard finds it on its next page and submits it through the normal services, for the owner
only: another user who logs in on the same browser has it deleted, never applied.
"""

from django.core import signing
from django.http import QueryDict

PENDING_KEY = "onboarding_pending_step"
OWNER_SALT = "onboarding.wizard.step-owner"
# A step page older than this is not trusted to name its owner (longer than any login lasts).
OWNER_MAX_AGE = 60 * 60 * 24 * 30
# Never kept: the token of the request that brought them (the next request carries its own).
NOT_KEPT = ("csrfmiddlewaretoken",)


def step_owner_token(*, user) -> str:
    """Return the signed owner of a step page rendered for ``user``."""
    return signing.dumps({"user": user.pk}, salt=OWNER_SALT)


def step_owner_id(data) -> int | None:
    """Return the user id a submitted step form names as its owner, or None when absent or forged."""
    token = data.get("owner", "")
    if not token:
        return None
    try:
        return signing.loads(token, salt=OWNER_SALT, max_age=OWNER_MAX_AGE)["user"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


def pending_keep(request, *, step: str) -> bool:
    """Keep a signed-out submit of ``step`` for the user its form names; False when it names nobody."""
    owner = step_owner_id(request.POST)
    if owner is None:
        return False
    data = {key: request.POST.getlist(key) for key in request.POST if key not in NOT_KEPT}
    request.session[PENDING_KEY] = {"owner": owner, "step": step, "data": data}
    return True


def pending_take(request) -> tuple[str, QueryDict] | None:
    """Remove the kept submit from the session; return (step, form data) when it belongs to the user."""
    kept = request.session.pop(PENDING_KEY, None)
    if not kept or kept.get("owner") != request.user.pk:
        return None
    data = QueryDict(mutable=True)
    for key, values in kept["data"].items():
        data.setlist(key, values)
    return kept["step"], data


def pending_drop_unless_owner(request) -> None:
    """Delete a kept submit that belongs to anyone but the user now signed in."""
    kept = request.session.get(PENDING_KEY)
    if kept and kept.get("owner") != request.user.pk:
        del request.session[PENDING_KEY]
