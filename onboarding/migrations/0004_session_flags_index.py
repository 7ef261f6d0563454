"""The experiment readout's index: sessions by the flags they decided (``data->'flags' @> '{"<flag>": true}'``).

GIN is PostgreSQL's, so the index is created there only (other databases filter without it), and it is
not in the model's Meta: SQLite rebuilds a table from its Meta indexes and cannot create a GIN index.
CONCURRENTLY, outside a transaction, so that a big sessions table keeps taking writes while it builds.
"""

from django.db import migrations

INDEX = "onb_session_flags"


def create_flags_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON onboarding_sessions "
            "USING gin ((data -> 'flags') jsonb_path_ops)"
        )


def drop_flags_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("onboarding", "0003_outbox_pending_created_index"),
    ]

    operations = [
        migrations.RunPython(create_flags_index, drop_flags_index, elidable=False),
    ]
