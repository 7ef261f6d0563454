"""Settings of the wizard server the browser tests start as a separate process (tests/browser_support.py).

The project's settings, with the test run's fast password hasher so users created by the tests can log in.
"""

from onboarding_project.settings import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# A hung save gives up after 2 s in the browser tests (10 s in production): the tests stay quick.
ONBOARDING_CLIENT_TIMEOUT_SECONDS = 2
