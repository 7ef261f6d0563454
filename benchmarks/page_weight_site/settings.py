"""The project's settings with a base template that has no module preloads: the page as it was before.

``benchmarks/page_weight.py`` writes that template (templates/base.html less its
``{% module_preloads %}`` line) into ``BENCH_TEMPLATES_DIR``, which is searched first.
"""

import os

from onboarding_project.settings import *  # noqa: F401,F403
from onboarding_project.settings import TEMPLATES

TEMPLATES[0]["DIRS"] = [os.environ["BENCH_TEMPLATES_DIR"], *TEMPLATES[0]["DIRS"]]
