"""Signal receivers: a new login is a return ("resumed"); after migrate, the manifest's flags exist in waffle."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in)
def record_resume_on_login(sender, request, user, **kwargs):
    from .selectors import session_live_for_user
    from .services import event_record_resumed_if_away

    session = session_live_for_user(user)
    if session is not None:
        event_record_resumed_if_away(session=session, source="wizard", force=True)


def create_manifest_flags(sender, using, apps=None, verbosity=1, **kwargs):
    """Create the waffle flags the manifest references (off) once the tables exist (connected to post_migrate)."""
    from waffle import get_waffle_flag_model

    from .flag_decisions import manifest_flags_create_missing

    if apps is not None:  # after migrate (flush sends no apps: every table is there)
        try:
            apps.get_model(get_waffle_flag_model()._meta.label)  # waffle's table is there (migrated)
        except LookupError:
            return
    for name in manifest_flags_create_missing(using=using):
        if verbosity >= 1:
            print(f"  Created the waffle flag {name!r} (off for everyone).")
