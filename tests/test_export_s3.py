"""The nightly export into an S3 bucket, configured from environment variables alone, against moto's S3 server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from aggregation.export import MANIFEST_NAME, answers_export, files
from aggregation.models import ExportRun

from .factories import AnswerSnapshotFactory
from .test_webhooks_worker import database_url

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "onboarding-exports"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_S3_REGION_NAME": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3-compatible server on 127.0.0.1 (a free port); yield its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, monkeypatch):
    """An empty bucket on the server, and the AWS credentials django-storages and boto3 read from the environment."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.resource("s3", endpoint_url=s3_server, region_name="us-east-1")
    bucket = s3.Bucket(BUCKET)
    if bucket.creation_date:
        bucket.objects.all().delete()
    else:
        bucket.create()
    return bucket


@pytest.fixture
def s3_storage(bucket, s3_server, settings):
    """The export storage as the environment variables configure it (see settings, "Export")."""
    settings.STORAGES = {
        **settings.STORAGES,
        "onboarding_exports": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "location": "answers",
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "querystring_auth": False,
            },
        },
    }
    return bucket


def keys(bucket) -> list[str]:
    return sorted(item.key for item in bucket.objects.all())


def read_lines(bucket, run_prefix: str) -> list[dict]:
    manifest = json.loads(bucket.Object(f"{run_prefix}/{MANIFEST_NAME}").get()["Body"].read())
    lines = []
    for entry in manifest["files"]:
        body = bucket.Object(f"{run_prefix}/{entry['name']}").get()["Body"].read().decode()
        lines.extend(json.loads(line) for line in body.splitlines())
    return lines


def test_the_export_command_writes_to_a_bucket_configured_by_environment_variables_alone(
    transactional_db, bucket, s3_server
):
    snapshots = AnswerSnapshotFactory.create_batch(5)
    env = {
        **os.environ,
        **CREDENTIALS,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "onboarding_project.settings",
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "ONBOARDING_ANSWERS_EXPORT_S3_BUCKET": BUCKET,
        "ONBOARDING_ANSWERS_EXPORT_S3_PREFIX": "answers",
        "AWS_S3_ENDPOINT_URL": s3_server,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "export_onboarding_answers", "--batch-size", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "location onboarding_exports:" in result.stdout
    [run_prefix] = {key.rsplit("/", 1)[0] for key in keys(bucket)}
    assert run_prefix.startswith("answers/")
    assert [key.rsplit("/", 1)[1] for key in keys(bucket)] == [
        MANIFEST_NAME,
        "part-00001.ndjson",
        "part-00002.ndjson",
        "part-00003.ndjson",
    ]
    assert sorted(line["session_id"] for line in read_lines(bucket, run_prefix)) == sorted(
        str(snapshot.session_id) for snapshot in snapshots
    )


def test_an_interrupted_upload_leaves_nothing_half_written_in_the_bucket(db, s3_storage, monkeypatch):
    AnswerSnapshotFactory.create_batch(5)
    uploads = []

    class CutOffMidway(files.File):
        """The second part's upload loses its connection after the first bytes went out."""

        def read(self, *args):
            data = super().read(*args)
            if len(uploads) == 2 and data:
                raise ConnectionResetError("connection reset by peer during the upload")
            return data

    def file_for_upload(handle, name):
        uploads.append(name)
        return CutOffMidway(handle, name=name)

    monkeypatch.setattr(files, "File", file_for_upload)
    with pytest.raises(ConnectionResetError):
        answers_export(batch_size=2)

    assert uploads == ["part-00001.ndjson", "part-00002.ndjson"]
    assert keys(s3_storage) == []  # the complete first part is deleted too: no run without its manifest
    client = s3_storage.meta.client
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert ExportRun.objects.get().status == ExportRun.Status.FAILED


def test_the_run_after_an_interrupted_one_delivers_every_snapshot(db, s3_storage, monkeypatch):
    snapshots = AnswerSnapshotFactory.create_batch(3)
    real_file = files.File

    def failing(handle, name):
        raise ConnectionResetError("network down")

    monkeypatch.setattr(files, "File", failing)
    with pytest.raises(ConnectionResetError):
        answers_export(batch_size=2)
    monkeypatch.setattr(files, "File", real_file)

    result = answers_export(batch_size=2)

    run_prefix = "answers/" + result.location.split(":", 1)[1]
    assert sorted(line["session_id"] for line in read_lines(s3_storage, run_prefix)) == sorted(
        str(s.session_id) for s in snapshots
    )
    assert {key.rsplit("/", 1)[0] for key in keys(s3_storage)} == {run_prefix}
