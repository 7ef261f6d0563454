"""The project's settings with a base template that loads the client unbundled: the page as it was before.

``benchmarks/page_weight.py`` writes that template (templates/base.html with ``init.js`` and its
module preloads in place of the bundle) into ``BENCH_TEMPLATES_DIR``, which is searched first.
"""

import os

from onboarding_project.settings import *  # noqa: F401,F403
from onboarding_project.settings import TEMPLATES

TEMPLATES[0]["DIRS"] = [os.environ["BENCH_TEMPLATES_DIR"], *TEMPLATES[0]["DIRS"]]
