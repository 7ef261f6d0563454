"""Settings of the wizard server the browser tests start as a separate process (tests/browser_support.py).

The project's settings, with the test run's fast password hasher so users created by the tests can log in.
"""

from onboarding_project.settings import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The browser client gives up on a request after this many seconds (then retries, then keeps the
# save on the device); short here so a test of a server that never answers stays quick.
ONBOARDING_CLIENT_TIMEOUT_SECONDS = 2
