"""What the benchmarks that run Django in-process share: their own database, Django set up on it, a staff client."""

import os
from urllib.parse import urlsplit


def ensure_database(url: str) -> None:
    """Create the database of ``url`` if it does not exist (the server's ``postgres`` database is asked)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def production_environment(url: str) -> None:
    """Point this process (and the processes it starts) at ``url`` with the production settings.

    DEBUG off (no per-query bookkeeping in ``connection.queries``, as in production), which needs a
    SECRET_KEY: a benchmark-only one unless the environment gives one. No broker: the benchmarks
    call the services directly.
    """
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"  # the test client speaks plain HTTP
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding_project.settings")


def setup_django(url: str, *, static_root: str | None = None, static_ignore: tuple[str, ...] = ()) -> None:
    """Set Django up on ``url`` as production runs (DEBUG off, no broker) and migrate it.

    ``static_root``: collect the static files there first, as a deployment does (pages that link
    them need the manifest of hashed names when DEBUG is off); ``static_ignore``: collectstatic's
    ``--ignore`` patterns for what those pages never link (hashing and compressing costs seconds a file set).
    """
    if static_root is not None:
        os.environ["STATIC_ROOT"] = static_root
    production_environment(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if static_root is not None and not static_collected_since_changed(static_root, static_ignore):
        call_command("collectstatic", verbosity=0, interactive=False, ignore_patterns=list(static_ignore))


def static_collected_since_changed(static_root: str, ignore: tuple[str, ...]) -> bool:
    """Return whether ``static_root`` holds a manifest newer than every static source file.

    Collecting hashes and compresses every file again (tens of seconds); a run after an earlier one
    of the same checkout reuses what that one collected.
    """
    from pathlib import Path

    from django.contrib.staticfiles.finders import get_finders

    manifest = Path(static_root) / "staticfiles.json"
    if not manifest.exists():
        return False
    collected_at = manifest.stat().st_mtime
    for finder in get_finders():
        for path, storage in finder.list(list(ignore)):
            if Path(storage.path(path)).stat().st_mtime > collected_at:
                return False
    return True


def staff_client(username: str):
    """Return a test Client logged in as a staff superuser named ``username`` (created if needed)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(staff)
    return client
