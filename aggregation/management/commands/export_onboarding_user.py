"""Print everything stored about one person's onboarding as one JSON document (subject access)."""

import getpass
import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from aggregation.subject_access import onboarding_subject_document
from onboarding.models import AnswersAccess
from onboarding.services import answers_access_record


class Command(BaseCommand):
    help = (
        "Print one JSON document with a user's onboarding data: account fields, sessions with answers and "
        "history, events, snapshots, workspaces and invitations sent. The access is logged."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user's username (exact).")
        parser.add_argument("--indent", type=int, default=2, help="JSON indentation (0: one line; default 2).")

    def handle(self, *args, username: str, indent: int, **options):
        if indent < 0:
            raise CommandError("--indent must be 0 or more")
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user with the username {username!r}.")
        document = onboarding_subject_document(user=user)
        answers_access_record(
            viewer=None,
            viewer_name=f"manage.py ({_operator()})",
            subject_user_id=user.pk,
            surface=AnswersAccess.Surface.SUBJECT_EXPORT,
            client_address=None,
        )
        self.stdout.write(json.dumps(document, indent=indent or None, ensure_ascii=False, sort_keys=False))


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return "unknown"
