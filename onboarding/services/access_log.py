"""The access log: the one writer of ``AnswersAccess`` (who looked at whose answers, when, from where)."""

from ..models import AnswersAccess


def answers_access_record(
    *,
    viewer,
    subject_user_id: int,
    surface: str,
    client_address: str | None,
    object_ref: str = "",
    viewer_name: str = "",
) -> AnswersAccess:
    """Record that ``viewer`` (a user, or None and ``viewer_name``: a command) was shown ``subject_user_id``'s answers."""
    return AnswersAccess.objects.create(
        viewer_id=getattr(viewer, "pk", None),
        viewer_username=(viewer.get_username() if viewer is not None else viewer_name)[:150],
        subject_user_id=subject_user_id,
        surface=surface,
        object_ref=str(object_ref)[:64],
        client_address=client_address or None,
    )
