"""Settings of the outage drill's stack (tests/test_outage_drill.py): production settings, DEBUG off.

Only two things differ from a deploy: the test run's fast password hasher (so users the tests create
can log in) and plain static file storage (a drill needs no collectstatic).
"""

from onboarding_project.settings import *  # noqa: F401,F403
from onboarding_project.settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
