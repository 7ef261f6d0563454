"""Erase one person's onboarding data everywhere (answers, history, snapshots, telemetry, replies, invitations)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from aggregation.erasure import ErasureReason, onboarding_user_erase


class Command(BaseCommand):
    help = (
        "Erase a user's onboarding data: sessions (answers, drafts, history), snapshots (totals and funnel "
        "stop counting them), events, idempotency replies, outbox messages and invitations sent. The account "
        "itself stays unless --delete-account is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user's username (exact).")
        parser.add_argument(
            "--delete-account", action="store_true", help="Also delete the Django user (username, e-mail, password)."
        )

    def handle(self, *args, username: str, delete_account: bool, **options):
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user with the username {username!r}.")
        with transaction.atomic():
            outcome = onboarding_user_erase(user_id=user.pk, reason=ErasureReason.REQUEST)
            if delete_account:
                user.delete()  # pre_delete erases again: finds nothing
        if outcome.erased:
            self.stdout.write(f"Erased the onboarding data of {username}: {outcome.summary()}.")
        else:
            self.stdout.write(f"Nothing to erase: {username} has no onboarding data (already erased?).")
        if delete_account:
            self.stdout.write(f"Deleted the account {username}.")
