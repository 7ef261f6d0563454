"""The browser client's module graph, read from the static files' own import statements.

The pages load no module of ``static/onboarding/`` one by one: they load ``BUNDLE``, ``ENTRY`` and
every module it reaches in one file, built by esbuild (``make bundle``; docs/browser-client.md).
The service worker is not bundled: it imports modules of ``onboarding/lib/`` by URL, and those
import others in turn. ``module_graph`` follows those imports (static ``import`` and
``export ... from`` statements), so the worker's precache list (``offline.py``) and the test that
the committed bundle is fresh need no second list of the client's files.
"""

import functools
import posixpath
import re

from django.conf import settings
from django.contrib.staticfiles import finders

ENTRY = "onboarding/init.js"  # what bundle.js bundles
BUNDLE = "onboarding/build/client.js"  # what the pages load (templates/base.html)
# import x from "./a.js"; import {a, b} from "./a.js"; import "./a.js"; export {a} from "./a.js"
_STATIC_IMPORT = re.compile(
    r"""^\s*(?:import|export)\s+(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']""",
    re.MULTILINE,
)


class ModuleNotFound(Exception):
    """A module imports a file that is not among the static files."""


def module_imports(source: str) -> list[str]:
    """Return the specifiers of the static imports (and re-exports) of a module's source."""
    return _STATIC_IMPORT.findall(source)


def _read(name: str) -> str:
    path = finders.find(name)
    if path is None:
        raise ModuleNotFound(f"{name} is imported but is not a static file")
    with open(path, encoding="utf-8") as file:
        return file.read()


def _module_graph(entry: str) -> tuple[str, ...]:
    """Return the static names of every module ``entry`` reaches, entry excluded, in discovery order."""
    seen, order, pending = {entry}, [], [entry]
    while pending:
        name = pending.pop(0)
        for specifier in module_imports(_read(name)):
            if not specifier.startswith(("./", "../")):
                continue  # a bare or absolute specifier: not one of ours
            imported = posixpath.normpath(posixpath.join(posixpath.dirname(name), specifier))
            if imported not in seen:
                seen.add(imported)
                order.append(imported)
                pending.append(imported)
    return tuple(order)


_cached_graph = functools.cache(_module_graph)


def module_graph(entry: str) -> tuple[str, ...]:
    """Return the modules ``entry`` reaches (read once per process unless DEBUG, where files change)."""
    return _module_graph(entry) if settings.DEBUG else _cached_graph(entry)
