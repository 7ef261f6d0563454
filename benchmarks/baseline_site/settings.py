"""The project's settings with the benchmark's URLconf; production settings never mount the baseline."""

from onboarding_project.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.baseline_site.urls"
