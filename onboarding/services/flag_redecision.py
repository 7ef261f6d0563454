"""Staff's re-decision of a flag for the sessions in flight (the admin action and the command).

Turning a flag on or off changes new sessions only; in-flight sessions keep what they decided.
When staff want in-flight sessions to follow, every in-progress session decides the flag again
through ``session_redecide_flags``, i.e. the version-reset path: a changed decision keeps the
answers that still validate, shows a notice and records a ``reset`` event.
"""

from collections import Counter
from collections.abc import Callable

from django.contrib.auth import get_user_model

from ..manifest import MANIFEST_FLAGS
from ..selectors import sessions_in_flight
from .sessions import session_redecide_flags


class UnknownFlag(LookupError):
    """Raised for a flag the manifest does not reference (no session decided it)."""


def flag_redecide_in_flight(
    *, flag: str, source: str, batch_size: int = 200, on_batch: Callable[[int], None] = lambda size: None
) -> Counter:
    """Decide ``flag`` again for every in-progress session; return how many were ``reset`` or ``unchanged``.

    Each session is locked and decided on its own (a short transaction per user), in batches of
    ``batch_size`` by session id, so users keep saving while it runs. Sessions started meanwhile
    decide the flag as it is now anyway.
    """
    if flag not in MANIFEST_FLAGS:
        raise UnknownFlag(flag)
    summary = Counter(reset=0, unchanged=0)
    after = None
    while batch := _next_batch(after=after, size=batch_size):
        users = get_user_model().objects.in_bulk([user_id for _session_id, user_id in batch])
        for _session_id, user_id in batch:
            user = users.get(user_id)
            reset = user is not None and session_redecide_flags(user=user, flags=[flag], source=source)
            summary["reset" if reset else "unchanged"] += 1
        after = batch[-1][0]
        on_batch(len(batch))
    return summary


def _next_batch(*, after, size) -> list[tuple]:
    sessions = sessions_in_flight()
    if after is not None:
        sessions = sessions.filter(id__gt=after)
    return list(sessions.order_by("id").values_list("id", "user_id")[:size])
