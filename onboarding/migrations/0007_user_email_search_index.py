"""Index users' e-mail addresses case-insensitively: the staff admin finds a user's rows by e-mail.

Django's ``email__iexact`` on PostgreSQL compares ``UPPER(email::text)``: this expression index
serves it (auth_user has no index on e-mail at all). Built CONCURRENTLY, so adding it to a big
users table does not block sign-ups; other databases get nothing (their tables stay small).
"""

from django.conf import settings
from django.db import migrations

INDEX = "onb_user_email_upper"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table
    schema_editor.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON "{table}" (UPPER(email::text))')
    # An expression index has no statistics until the table is analysed: without them the planner
    # guesses thousands of matches for one address and picks a parallel scan over a lookup.
    schema_editor.execute(f'ANALYZE "{table}"')


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("onboarding", "0006_idempotency_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
