"""Keep the export watermark per destination and per redaction.

Runs recorded before this have their destination read back from their location: a directory run's
parent directory, or ``storage:<alias>`` for a run in a storage. None of them was redacted as far as
the database knows (the manifests say which were), so they all count for the unredacted watermark.
"""

from pathlib import PurePath

from django.db import migrations, models


def destination_of(location: str) -> str:
    alias, separator, run_dir = location.partition(":")
    if separator and not location.startswith("/") and "/" not in alias:
        return f"storage:{alias}"
    return str(PurePath(location).parent)


def fill_destinations(apps, schema_editor):
    ExportRun = apps.get_model("aggregation", "ExportRun")
    for run in ExportRun.objects.exclude(location="").only("pk", "location"):
        ExportRun.objects.filter(pk=run.pk).update(destination=destination_of(run.location))


class Migration(migrations.Migration):
    dependencies = [
        ("aggregation", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="exportrun",
            name="export_status_window",
        ),
        migrations.AddField(
            model_name="exportrun",
            name="destination",
            field=models.CharField(
                default="", help_text="Where the run went: a directory or storage:<alias>.", max_length=500
            ),
        ),
        migrations.AddField(
            model_name="exportrun",
            name="redacted",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="exportrun",
            index=models.Index(fields=["destination", "redacted", "status", "-window_end"], name="export_dest_window"),
        ),
        migrations.RunPython(fill_destinations, migrations.RunPython.noop),
    ]
