"""A new login is a return: record "resumed" for a user mid-onboarding."""
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in)
def record_resume_on_login(sender, request, user, **kwargs):
    from .selectors import session_live_for_user
    from .services import event_record_resumed_if_away

    session = session_live_for_user(user)
    if session is not None:
        event_record_resumed_if_away(session=session, source="wizard", force=True)
