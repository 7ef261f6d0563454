"""The browser client's module graph, read from the static files, for ``<link rel="modulepreload">``.

``init.js`` imports the modules, which import the libraries, which import the vendored idb: four
levels, each found only once the level above has arrived. On a slow network that waterfall costs
one round trip per level. Preloading every module of the graph from the page lets the browser ask
for all of them at once. The list is read from the files themselves (their static ``import`` and
``export ... from`` statements), so there is no second list to keep in step with the code.

The URLs are the plain ones (``STATIC_URL`` + name): with DEBUG off the entry script is linked by
its hashed name, but ES module imports are not rewritten by ``collectstatic``, so every other
module is fetched by its plain name (WhiteNoise serves both). A preload of another URL would be
fetched twice.
"""

import functools
import posixpath
import re

from django.conf import settings
from django.contrib.staticfiles import finders

ENTRY = "onboarding/init.js"
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


def module_graph(entry: str = ENTRY) -> tuple[str, ...]:
    """Return the modules ``entry`` reaches (read once per process unless DEBUG, where files change)."""
    return _module_graph(entry) if settings.DEBUG else _cached_graph(entry)


def module_preload_urls(entry: str = ENTRY) -> list[str]:
    """Return the URLs the browser fetches the modules of ``entry``'s graph by."""
    static_url = settings.STATIC_URL
    prefix = static_url if static_url.startswith(("http:", "https:", "//")) else "/" + static_url.strip("/") + "/"
    return [prefix + name for name in module_graph(entry)]
