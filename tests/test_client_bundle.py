"""Pages load the client as one bundled file, and the committed bundle holds the modules as they are.

Byte for byte, the bundle is checked by tests/js/client-bundle.test.js (it needs Node and esbuild);
the freshness test here needs neither, so a run of pytest alone still says "run make bundle".
"""

import json
import posixpath
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from onboarding.wizard.module_graph import BUNDLE, ENTRY, module_graph, module_imports

pytestmark = pytest.mark.django_db

_SCRIPTS = re.compile(r"<script\b[^>]*>")


def test_a_page_loads_the_client_as_one_module_script_and_preloads_nothing(client):
    html = client.get("/accounts/login/").text

    assert _SCRIPTS.findall(html) == [f'<script type="module" src="/static/{BUNDLE}">']
    assert "modulepreload" not in html


def test_the_wizard_page_loads_the_bundle_too(client, new_user):
    client.force_login(new_user)

    html = client.get("/o/profile/").text

    assert _SCRIPTS.findall(html) == [f'<script type="module" src="/static/{BUNDLE}">']


def test_the_committed_bundle_holds_every_module_the_entry_reaches_as_it_is_now():
    source_map = json.loads(Path(finders.find(BUNDLE + ".map")).read_text(encoding="utf-8"))
    # The map names each module relative to the bundle's folder and carries its text as it was bundled.
    folder = posixpath.dirname(BUNDLE)
    bundled = {
        posixpath.normpath(posixpath.join(folder, source)): text
        for source, text in zip(source_map["sources"], source_map["sourcesContent"], strict=True)
    }

    def current(name):
        path = finders.find(name)
        return Path(path).read_text(encoding="utf-8") if path else None

    stale = sorted(name for name, text in bundled.items() if current(name) != text)
    missing = sorted({ENTRY, *module_graph(ENTRY)} - bundled.keys())
    assert (stale, missing) == ([], []), f"{BUNDLE} is stale: run `make bundle` and commit it"


def test_the_graph_follows_static_imports_and_re_exports_only():
    source = """
// import { commented } from "./not-this.js";
import * as a from "./a.js";
import {
  b,
  c as d,
} from '../lib/b.js';
import "./side-effect.js";
export { e } from "./e.js";
const later = () => import("./dynamic.js");
const text = "import x from './in-a-string.js'";
"""

    assert module_imports(source) == ["./a.js", "../lib/b.js", "./side-effect.js", "./e.js"]
