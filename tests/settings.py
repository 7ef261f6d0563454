"""The test suite's settings: the project's, read as on a developer's machine (DEBUG on unless set).

pytest-django still runs every test with DEBUG off; this only picks the development defaults that
are read at import (no SECRET_KEY needed, no HTTPS redirect, unhashed static file names).
"""

import os

os.environ.setdefault("DEBUG", "true")

from onboarding_project.settings import *  # noqa: E402,F401,F403
