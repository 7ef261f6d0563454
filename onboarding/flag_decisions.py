"""Deciding a session's feature flags: django-waffle's flags, evaluated for a user, without a request.

A session decides every flag the manifest references once, when it starts (``flags_decide``), and
keeps the answers in ``data["flags"]``. Waffle's own rules are honoured in waffle's order through
``Flag.is_active_for_user``: *everyone* (on or off) overrides the rest (``Flag.is_active`` checks
it first; ``is_active_for_user`` alone would let "everyone: no" fall through to the users and
groups), then *authenticated*, *staff*, *superusers*, the flag's users and groups. What is left undecided falls to the
percentage, bucketed here by a stable hash of (flag name, user id) instead of waffle's random
draw kept in a cookie: the same user lands in the same bucket on every device and in every
replay, and raising the percentage only ever adds users. Request-bound settings (waffle's
cookies, *testing*, *rollout*, *languages*, the ``?flag=1`` override) do not apply: there is no
request at the decision, and its answer must not depend on one.
"""

import hashlib
from collections.abc import Iterable

from waffle import get_waffle_flag_model
from waffle.utils import get_setting

from .manifest import MANIFEST_FLAGS, STEPS

_BUCKETS = 2**64


def flag_bucket(name: str, user_id: int) -> float:
    """Return where a user falls for a flag, in [0, 100): a SHA-256 of the flag name and the user id."""
    digest = hashlib.sha256(f"{name}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") * 100 / _BUCKETS


def flag_decide(name: str, *, user) -> bool:
    """Return whether waffle's flag ``name`` is on for ``user`` (percentages bucketed by user id)."""
    flag = get_waffle_flag_model().get(name)  # cached by waffle, flushed when staff change the flag
    if not flag.pk:  # no such flag (yet): waffle's default, as flag_is_active would answer
        return bool(get_setting("FLAG_DEFAULT"))
    if flag.everyone is not None:  # overrides every other setting; checked first, as Flag.is_active does
        return flag.everyone
    if flag.is_active_for_user(user):  # authenticated, staff, superusers, the flag's users and groups
        return True
    return flag.percent is not None and flag_bucket(name, user.pk) < float(flag.percent)


def flags_decide(*, user, names: Iterable[str] = MANIFEST_FLAGS) -> dict[str, bool]:
    """Return ``{name: on}`` for each of ``names`` (by default every flag the manifest references)."""
    return {name: flag_decide(name, user=user) for name in names}


def manifest_flags_create_missing(*, using: str = "default") -> list[str]:
    """Create, off for everyone, each flag the manifest references that waffle does not have yet; return their names.

    Run after ``migrate``, so staff find every onboarding flag in the admin, with a note saying
    what it shows. An existing flag is never changed.
    """
    created = []
    for name in MANIFEST_FLAGS:
        _flag, new = (
            get_waffle_flag_model()
            .objects.using(using)
            .get_or_create(
                name=name,
                defaults={"everyone": None, "superusers": False, "note": _flag_note(name)},
            )
        )
        if new:
            created.append(name)
    return created


def _flag_note(name: str) -> str:
    shows = [f"step {step.key}" for step in STEPS if step.flag == name]
    shows += [f"{step.key}.{field}" for step in STEPS for field, flag in step.field_flags.items() if flag == name]
    return f"Onboarding: shows {', '.join(shows)} to the sessions that decide it on when they start."
