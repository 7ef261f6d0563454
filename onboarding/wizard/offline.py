"""The offline wizard's server side: the service worker script and the page shell.

The service worker is served from ``/o/sw.js`` (not from /static/) so that its scope covers the
wizard under ``/o/``. It precaches what the pages load (the style sheet and the client bundle) and
the modules it imports itself, with theirs. The list is built here with ``static()``, so it names
the hashed files WhiteNoise serves in production and the plain ones in DEBUG; its cache version is
a digest of those files and of the script itself, so a deploy that changes any of them installs a
new worker, which deletes the old caches.

The shell (``/o/offline/``) is the wizard page without a step: the browser keeps a copy of it per
user and, when the server cannot be reached, renders a step into it from the cached manifest.
"""

import functools
import hashlib
import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from .. import services
from ..selectors import manifest_of
from .module_graph import BUNDLE, module_graph
from .presentation import form_for_display, step_initial

SOURCE = "wizard"
SERVICE_WORKER_TEMPLATE = "onboarding/service_worker.js"
# The wizard view's form prefix (formtools names it after the view class): the shell's form carries
# its current-step field too, so a step shown from the shell posts like the server's own page.
MANAGEMENT_PREFIX = "onboarding_wizard_view"
# What every wizard page loads (templates/base.html): the style sheet and the client in one file.
PAGE_FILES = ("onboarding/site.css", BUNDLE)
# The modules the worker's template imports, by the name its context gives their URL (hashed in
# production); what they import in turn is read from their import statements.
SERVICE_WORKER_IMPORTS = {
    "sender_url": "onboarding/lib/sender.js",
    "outbox_url": "onboarding/lib/outbox.js",
}


def _precached_files() -> list[tuple[str, str]]:
    """Return (name, absolute path) of every static file the worker precaches, sorted by name."""
    names = set(PAGE_FILES)
    for module in SERVICE_WORKER_IMPORTS.values():
        names.update((module, *module_graph(module)))
    return sorted((name, finders.find(name)) for name in names)


def _offline_bundle() -> dict:
    names, digest = [], hashlib.sha256()
    for name, path in _precached_files():
        names.append(name)
        with open(path, "rb") as file:
            digest.update(name.encode() + b"\0" + file.read())
    digest.update(get_template(SERVICE_WORKER_TEMPLATE).template.source.encode())
    digest.update(str(settings.ONBOARDING_VERSION).encode())
    # The hashed URL (what <script src> and <link> use in production) and the plain one (what an
    # ES module's relative imports resolve to; collectstatic keeps both).
    urls = sorted({static(name) for name in names} | {settings.STATIC_URL.rstrip("/") + "/" + name for name in names})
    urls = ["/" + url.lstrip("/") if not url.startswith(("http:", "https:")) else url for url in urls]
    return {"version": digest.hexdigest()[:16], "precache": urls}


_cached_bundle = functools.cache(_offline_bundle)


def offline_bundle() -> dict:
    """Return the cache version and the precache list (read once per process unless DEBUG)."""
    return _offline_bundle() if settings.DEBUG else _cached_bundle()


@require_GET
def service_worker(request):
    """Serve the service worker script (no login needed: it holds nothing of any user)."""
    bundle = offline_bundle()
    urls = {
        "shell": reverse("onboarding:offline-shell"),
        "progress": reverse("api-onboarding-progress"),
        "complete": reverse("api-onboarding-complete"),
        "events": reverse("api-onboarding-events"),
        "login": reverse("login"),
        "dashboard": reverse("onboarding:dashboard"),
    }
    body = get_template(SERVICE_WORKER_TEMPLATE).render(
        {
            "version": bundle["version"],
            # Our own URLs, as JSON (a JavaScript file: no HTML escaping applies).
            "precache": mark_safe(json.dumps(bundle["precache"])),  # noqa: S308
            "urls": mark_safe(json.dumps(urls)),  # noqa: S308
            "static_prefix": "/" + settings.STATIC_URL.lstrip("/"),
            "client_timeout_ms": client_context()["client_timeout_ms"],  # the pages' own limit
            **{key: static(name) for key, name in SERVICE_WORKER_IMPORTS.items()},
        }
    )
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"  # the browser compares it on every navigation: updates arrive at once
    return response


def client_context() -> dict:
    """What the status element tells the browser client: the offline cache version, the save timeout."""
    return {
        "offline_version": offline_bundle()["version"],
        "client_timeout_ms": int(settings.ONBOARDING_CLIENT_TIMEOUT_SECONDS * 1000),
    }


@login_required
@require_GET
def shell(request):
    """Render the wizard page without a step: the copy the browser keeps to show steps it can't fetch.

    Every step of the user's wizard is rendered into it once, unbound, as a ``<template>``: the
    same fields (``_field.html``), labels, choices and buttons as the step page, so the browser
    shows a step from the server's own markup and only fills in the values it knows.
    """
    session = services.session_get_or_start(user=request.user, source=SOURCE)  # completed users went away
    steps = manifest_of(session).steps
    templates = [
        {
            "step": step,
            "index": index,
            "previous": steps[index - 1].key if index else "",
            "is_last": index == len(steps) - 1,
            "form": form_for_display(
                step.form_class(prefix=step.key, user=request.user, initial=step_initial(step.key, None))
            ),
        }
        for index, step in enumerate(steps)
    ]
    context = {**client_context(), "step_templates": templates, "management_prefix": MANAGEMENT_PREFIX}
    return render(request, "onboarding/wizard_offline.html", context)
