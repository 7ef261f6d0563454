"""Settings, read once from the environment through one environ.Env(), top to bottom by concern.

The embedded default needs no environment at all: SQLite, Celery tasks in-process, console
e-mail. Production sets SECRET_KEY, DEBUG=false, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL.
Sections: core, database, auth, onboarding, API, Celery, export, logging.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Core -------------------------------------------------------------------------------
# Off unless set: a deploy that forgets it must not show tracebacks. `make run` sets DEBUG=true.
DEBUG = env.bool("DEBUG", default=False)
# A development default only; with DEBUG off the environment must provide a real key (a key in
# the repository would let anyone sign API tokens).
SECRET_KEY = env("SECRET_KEY", default="dev-insecure-onboarding-secret-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS. With DEBUG off everything defaults to the secure choice; each can be turned off (e.g. a
# local production-like run over plain HTTP, see `make stack`).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# The header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto); trust it only when the
# proxy always overwrites it. Unset: the request's own scheme.
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
# How many reverse proxies in front of the app append to X-Forwarded-For. The client address used
# by lock-outs and throttles is the one the outermost of them saw; 0 (the default) means
# X-Forwarded-For is ignored and REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS = [
    "onboarding_project.admin_site.OnboardingAdminConfig",  # django.contrib.admin with the project's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "corsheaders",
    "csp",  # its system checks (the middleware is what sets the header)
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",  # refresh tokens used or logged out stay refused
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served locally, no CDN
    "formtools",
    "django_guid",
    # Feature flags (admin screens, the waffle_flag command). No waffle middleware: onboarding decides
    # a session's flags itself, once, by user (onboarding/flag_decisions.py), never by waffle's cookies.
    "waffle",
    "onboarding",
    "aggregation",
    "adminapi",
    "webhooks",
]

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",  # first: every log line of the request carries its id
    "onboarding_project.health.HealthCheckMiddleware",  # /healthz, /readyz: before the HTTPS redirect and host check
    "corsheaders.middleware.CorsMiddleware",  # it answers preflights before anything else may
    "django.middleware.security.SecurityMiddleware",
    "onboarding_project.query_guard.QueryStringGuardMiddleware",  # NUL or non-UTF-8 in an admin query: 400
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, right after the HTTPS redirect
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: Django's cookie (the switcher), else Accept-Language; the saved answer comes below.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's saved preferences (language, theme) win over what LocaleMiddleware chose.
    "onboarding.middleware.OnboardingPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # the Content-Security-Policy header (see Headers below)
    "onboarding.middleware.OnboardingGuardMiddleware",
    "onboarding.middleware.SignedInUserCookieMiddleware",  # whose writes the browser client may send
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the 429 page
]

ROOT_URLCONF = "onboarding_project.urls"
WSGI_APPLICATION = "onboarding_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "onboarding.context_processors.preferences",
            ],
        },
    },
]

# The six languages of the preferences step (its `language` choices are these codes). Catalogs live
# in locale/<ll>/LC_MESSAGES/django.po; `make messages` compiles them (docs/languages.md).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ja", "日本語"),
    ("pt-br", "Português (Brasil)"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# `manage.py collectstatic` copies every static file here; WhiteNoise serves them from here.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # With DEBUG off: hashed names (cached for ever by browsers) and pre-compressed copies, made
    # by collectstatic. With DEBUG on the files are served as they are in the source tree.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# WhiteNoise reads DEBUG when the first request arrives; tests turn DEBUG off only then, so pin
# the development behaviour (files found in the source tree, re-scanned) to the DEBUG read here.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG
# Source maps are read only by browser developer tools, never by a page: collectstatic leaves them
# uncompressed (compressing the Swagger UI's and Redoc's maps was over half of its time).
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")

# Request bodies beyond this are refused before a view parses them (the API answers 413/400).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)

# Password reset and invitation e-mails. The file backend writes each message to EMAIL_FILE_PATH.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-emails"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="onboarding@localhost")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)  # seconds a reset link works

# --- Database ---------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
# PostgreSQL: every process (gunicorn worker, Celery prefork child) keeps a pool of open
# connections (Django's native psycopg pool) instead of opening one per request or task, which
# costs a new PostgreSQL server process with cold caches each time.
# A connection is held only while a request or task runs: size DATABASE_POOL_MAX_SIZE to a
# process's concurrent requests (gunicorn's GUNICORN_THREADS). 0 turns the pool off (e.g. behind
# pgbouncer, with CONN_MAX_AGE=0); the pool and CONN_MAX_AGE > 0 exclude each other.
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=8)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX_SIZE > 0:
    if DATABASES["default"]["CONN_MAX_AGE"]:  # Django would refuse it only at the first query
        raise environ.ImproperlyConfigured(
            "CONN_MAX_AGE > 0 needs DATABASE_POOL_MAX_SIZE=0: the pool keeps connections itself"
        )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10),  # seconds a request waits for a free connection
    }
    # Each connection is checked as it leaves the pool (an empty query): after PostgreSQL restarts or a
    # network cut, a broken one is replaced at once instead of failing the request that drew it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: the Celery broker (see Celery below) and the shared cache. Unset: the embedded default.
REDIS_URL = env("REDIS_URL", default=None)
# Lock-out and throttle counts live in the default cache: with REDIS_URL set they are shared by
# every process (gunicorn workers, several hosts); without it they are per process (`make run`).
# On Redis the cache fails open (onboarding_project/cache.py): a hung or dead Redis costs one request
# CACHE_TIMEOUT per operation at most, then Redis is skipped for CACHE_RETRY_AFTER seconds.
CACHE_TIMEOUT = env.float("CACHE_TIMEOUT", default=0.5)
CACHE_RETRY_AFTER = env.float("CACHE_RETRY_AFTER", default=10.0)
CACHES = {
    "default": {
        "BACKEND": "onboarding_project.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "onboarding",
        "OPTIONS": {"socket_connect_timeout": CACHE_TIMEOUT, "socket_timeout": CACHE_TIMEOUT},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's hashers, PBKDF2 first as by default, computed on threads of lowered CPU priority so that
# logins give way to saves (onboarding/hashers.py). Its algorithm name is Django's own: never list
# django.contrib.auth.hashers.PBKDF2PasswordHasher beside it (the later one would take the name).
PASSWORD_HASHERS = [
    "onboarding.hashers.LowPriorityPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
PASSWORD_HASHING_THREADS = env.int("PASSWORD_HASHING_THREADS", default=2)  # per process: hashes at once
PASSWORD_HASHING_NICE = env.int("PASSWORD_HASHING_NICE", default=10)  # those threads' nice value (Linux; 0-19)

# Axes first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Brute force (django-axes, onboarding/login_lockout.py): failed logins on any login surface
# (/accounts/login/, /admin/login/, /api/auth/token) are counted per account from one address, per
# account from every address and per address across accounts, each with its own limit; while one is
# reached, logins of that account from that address (or of the account, or from the address) are
# refused with 429, the right password included, for LOGIN_LOCKOUT_SECONDS after the failure that
# locked it. Refused attempts do not count, so they cannot extend a lock-out. Counts are in the
# default cache (Redis when REDIS_URL is set: shared by every process).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)  # one account from one address
LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("LOGIN_ACCOUNT_FAILURE_LIMIT", default=50)  # one account, all addresses
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)  # one address, all accounts
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60))
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused attempt neither counts nor extends
AXES_HANDLER = "onboarding.login_lockout.LoginLockoutHandler"
AXES_VERBOSE = False  # no start-up banner; onboarding.login_lockout logs each failure with its address and counts
# Lock-outs are lifted by a completed password reset, `manage.py axes_reset_username NAME` or
# `axes_reset_ip ADDRESS`; axes' admin pages would show its database store, which is not used.
AXES_ENABLE_ADMIN = False
AXES_CLIENT_IP_CALLABLE = "onboarding.brute_force.client_address"
AXES_LOCKOUT_CALLABLE = "onboarding.brute_force.lockout_response"
# Sign-ups per client address ("N/sec|min|hour|day"; empty disables); beyond it 429.
ACCOUNT_SIGNUP_THROTTLE_RATE = env("ACCOUNT_SIGNUP_THROTTLE_RATE", default="10/hour") or None
# Password reset requests per client address (each may send an e-mail); beyond it 429.
PASSWORD_RESET_THROTTLE_RATE = env("PASSWORD_RESET_THROTTLE_RATE", default="5/hour") or None
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "onboarding:start"
LOGOUT_REDIRECT_URL = "login"

# --- Onboarding -------------------------------------------------------------------------
# Bumping this resets in-progress sessions of older versions to the new baseline on next access.
ONBOARDING_VERSION = env.int("ONBOARDING_VERSION", default=1)
# How long the browser client waits for an answer to a save before it counts as failed (and is kept).
ONBOARDING_CLIENT_TIMEOUT_SECONDS = env.float("ONBOARDING_CLIENT_TIMEOUT_SECONDS", default=10)
# Paths the onboarding guard never redirects: the API and admin answer for themselves, the auth
# pages must stay reachable, static files are files. (STATIC_URL is added by the middleware.)
# /o/sw.js: the offline wizard's service worker, which the browser re-checks on every page, also a completed user's.
# /i18n/: the language switcher, which every page posts to (also mid-onboarding).
ONBOARDING_GUARD_EXEMPT_PREFIXES = ("/api/", "/admin/", "/accounts/", "/i18n/", "/favicon.ico", "/o/sw.js")

# How long an Idempotency-Key's first answer is kept (24 hours); beat purges older ones hourly.
ONBOARDING_IDEMPOTENCY_TTL_SECONDS = env.int("ONBOARDING_IDEMPOTENCY_TTL_SECONDS", default=24 * 3600)

# A browser event (POST /api/onboarding/events) for a session completed longer ago than this is refused
# (409): the grace lets the report of a Finish that was kept on the device arrive just after it.
ONBOARDING_BROWSER_EVENTS_GRACE_SECONDS = env.int("ONBOARDING_BROWSER_EVENTS_GRACE_SECONDS", default=60)

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Bearer first so that unauthenticated requests get 401 with a WWW-Authenticate header; the
    # session scheme's CSRF failure answers 403 with code "csrf_failed".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "onboarding.api.authentication.JWTAuthentication",
        "onboarding.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON with a size cap and strict values (no NaN/Infinity, NUL or lone surrogates): clean 400/413.
    "DEFAULT_PARSER_CLASSES": ["onboarding.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["onboarding.api.throttling.AuthenticatedWriteThrottle"],
    "EXCEPTION_HANDLER": "onboarding.api.exception_handler.api_exception_handler",
}
# Bearer tokens for cross-origin SPAs: a short-lived access token, renewed with the refresh token.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("API_ACCESS_TOKEN_LIFETIME_SECONDS", default=5 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("API_REFRESH_TOKEN_LIFETIME_SECONDS", default=24 * 3600)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Our token classes (revocation claim, claim types; onboarding/api/tokens.py); the obtain
    # serializer answers a lock-out (django-axes) with 429, the refresh serializer a deleted user with 401.
    "AUTH_TOKEN_CLASSES": ("onboarding.api.tokens.AccessToken",),
    "TOKEN_OBTAIN_SERIALIZER": "onboarding.api.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "onboarding.api.tokens.TokenRefreshSerializer",
    "TOKEN_BLACKLIST_SERIALIZER": "onboarding.api.tokens.TokenBlacklistSerializer",
    # A refresh answers a new refresh token too, and the one used is blacklisted: a stolen refresh
    # token works once at most, and POST /api/auth/logout blacklists the current one.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
# Authenticated writes (PATCH/POST) per user, and token requests per client address ("N/sec|min|hour|day";
# empty disables). Counted in the default cache, i.e. per process unless CACHES points at a shared one.
API_WRITE_THROTTLE_RATE = env("API_WRITE_THROTTLE_RATE", default="120/min") or None
API_TOKEN_THROTTLE_RATE = env("API_TOKEN_THROTTLE_RATE", default="30/min") or None
# Browser telemetry (save_retried, conflict_shown) per user, counted apart from the writes.
API_BROWSER_EVENT_THROTTLE_RATE = env("API_BROWSER_EVENT_THROTTLE_RATE", default="30/min") or None
# Cross-origin SPAs (bearer token only: no cookies cross-origin). Origins such as
# https://app.example.com; none by default. ETag is exposed so the SPA can send it back as If-Match.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "if-match", "idempotency-key"]
CORS_EXPOSE_HEADERS = ["ETag", "Retry-After", "X-Request-ID"]

# The schema (/api/schema/) and its pages (/api/docs/, /api/redoc/) for staff only; on unless DEBUG.
API_DOCS_STAFF_ONLY = env.bool("API_DOCS_STAFF_ONLY", default=not DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "Onboarding platform API",
    "DESCRIPTION": "Progress and completion of the onboarding flow, and staff-only answer analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "onboarding.api.docs.forbid_unknown_request_keys",
    ],
}

# --- Headers ----------------------------------------------------------------------------
# Content-Security-Policy on every response (django-csp): scripts, styles and everything else from
# this origin only, no inline script or style, no plugins, no <base>, never framed. The API docs
# pages add what Swagger UI and Redoc need (onboarding/api/docs.py). Browsers report violations to
# /api/csp-report, which logs them (at most CSP_REPORT_THROTTLE_RATE per client address).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # the favicon is a data: URL
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [SELF],  # the offline wizard's service worker
        "manifest-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "report-uri": ["/api/csp-report"],
    }
}
CSP_REPORT_THROTTLE_RATE = env("CSP_REPORT_THROTTLE_RATE", default="60/min") or None

# --- Celery -----------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # The embedded default: tasks run in-process, right after the transaction commits.
    # A host named in the URL: kombu warns "No hostname was supplied" (at WARNING, on every publish) for "memory://".
    CELERY_BROKER_URL = "memory://localhost/"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker started before Redis keeps trying
# Publishing happens after a completion commits, inside the request: with the broker down it
# must give up within about a second (the outbox keeps the message and the beat sweep re-sends
# it) instead of kombu's default of retrying the connection forever.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY = False
# Seconds each broker operation of that publish may take (connect, send, read a reply): a Redis
# that accepts connections but never answers must not hold the completion request for long.
ONBOARDING_OUTBOX_PUBLISH_TIMEOUT = env.float("ONBOARDING_OUTBOX_PUBLISH_TIMEOUT", default=1.0)

# The ingestion task's limits, read by aggregation/tasks/ingest.py and by the visibility timeout below.
ONBOARDING_INGEST_TIME_LIMIT = 120  # seconds; the soft limit is 20 s earlier
ONBOARDING_INGEST_RETRY_BACKOFF_MAX = 600  # seconds between retries at most
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message unacknowledged this long (a killed worker) goes back to the queue. It must exceed
    # the longest task and the longest retry countdown, or a slow task would run twice at once.
    "visibility_timeout": max(3600, 2 * (ONBOARDING_INGEST_TIME_LIMIT + ONBOARDING_INGEST_RETRY_BACKOFF_MAX)),
    "max_retries": 1,  # connection attempts when publishing, then fail
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    "retry_on_timeout": True,
    "health_check_interval": 25,
}
# A pending outbox message not acknowledged after this many seconds is dispatched again by the
# sweep, which beat starts every ONBOARDING_OUTBOX_SWEEP_SECONDS: together they bound how late a
# completion whose publish failed (broker down, worker killed) reaches the snapshots.
ONBOARDING_OUTBOX_REDISPATCH_AFTER = env.int("ONBOARDING_OUTBOX_REDISPATCH_AFTER", default=300)
ONBOARDING_OUTBOX_SWEEP_SECONDS = env.float("ONBOARDING_OUTBOX_SWEEP_SECONDS", default=60.0)
# /readyz answers within this many seconds whatever is down: a check still running then fails.
READYZ_TIMEOUT = env.float("READYZ_TIMEOUT", default=2.5)
# /readyz fails when the oldest pending outbox message is older than this many seconds.
ONBOARDING_OUTBOX_ALERT_AFTER = env.int("ONBOARDING_OUTBOX_ALERT_AFTER", default=900)

# --- Export -----------------------------------------------------------------------------
# Where the default export storage writes runs; S3 (django-storages) is a change of backend here.
ONBOARDING_ANSWERS_EXPORT_PATH = env("ONBOARDING_ANSWERS_EXPORT_PATH", default=str(BASE_DIR / "exports"))
STORAGES["onboarding_exports"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": ONBOARDING_ANSWERS_EXPORT_PATH},
}
# An S3 bucket instead (django-storages, the `s3` extra), from the environment alone: set the bucket and
# the export storage is that bucket. Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the
# environment (read by django-storages and boto3), or the machine's role when they are unset.
ONBOARDING_ANSWERS_EXPORT_S3_BUCKET = env("ONBOARDING_ANSWERS_EXPORT_S3_BUCKET", default="")
if ONBOARDING_ANSWERS_EXPORT_S3_BUCKET:
    STORAGES["onboarding_exports"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ONBOARDING_ANSWERS_EXPORT_S3_BUCKET,
            "location": env("ONBOARDING_ANSWERS_EXPORT_S3_PREFIX", default=""),  # a key prefix, e.g. "answers"
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),  # an S3-compatible service (MinIO, ...)
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "querystring_auth": False,  # nothing is ever linked: no signed URLs
        },
    }
# When beat starts the nightly export: a cron expression (minute hour day-of-month month day-of-week), UTC.
ONBOARDING_ANSWERS_EXPORT_CRON = env("ONBOARDING_ANSWERS_EXPORT_CRON", default="0 2 * * *")
_export_cron = ONBOARDING_ANSWERS_EXPORT_CRON.split()

# The staff funnel's rollups (aggregation/funnel/): beat folds new telemetry into them this often
# (seconds); a fold stays this many seconds behind the committed horizon; a read adds what is not
# folded yet, unless that is more than this many events (then it computes the window directly).
ONBOARDING_FUNNEL_FOLD_INTERVAL = env.int("ONBOARDING_FUNNEL_FOLD_INTERVAL", default=60)
ONBOARDING_FUNNEL_FOLD_LAG = env.int("ONBOARDING_FUNNEL_FOLD_LAG", default=10)
ONBOARDING_FUNNEL_PENDING_MAX = env.int("ONBOARDING_FUNNEL_PENDING_MAX", default=50_000)

# --- Personal data: retention (aggregation/retention.py; docs/personal-data.md) -------------------
# Beat runs the retention every this many seconds; each purge deletes this many rows per transaction.
ONBOARDING_RETENTION_INTERVAL = env.int("ONBOARDING_RETENTION_INTERVAL", default=3600)
ONBOARDING_RETENTION_BATCH = env.int("ONBOARDING_RETENTION_BATCH", default=1000)
# Sessions in progress (or superseded) untouched this many days are erased, as a person's erasure is.
ONBOARDING_RETENTION_ABANDONED_DAYS = env.int("ONBOARDING_RETENTION_ABANDONED_DAYS", default=180)
# Events older than this many days, once the funnel has folded them and no figure needs them, are deleted.
ONBOARDING_RETENTION_EVENTS_DAYS = env.int("ONBOARDING_RETENTION_EVENTS_DAYS", default=90)
# Delivered outbox messages (they repeat the answers) are deleted after this many days.
ONBOARDING_RETENTION_OUTBOX_DAYS = env.int("ONBOARDING_RETENTION_OUTBOX_DAYS", default=7)
# Webhook delivery attempts older than this many days: purged by the webhooks app on ``retention_due``.
ONBOARDING_RETENTION_WEBHOOK_ATTEMPTS_DAYS = env.int("ONBOARDING_RETENTION_WEBHOOK_ATTEMPTS_DAYS", default=30)

# --- Webhooks ---------------------------------------------------------------------------
# Receivers on private, loopback or link-local networks (and metadata addresses) are refused unless
# this is true: for a receiver on the same machine or inside the private network.
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
# No complete answer within this many seconds is a failed attempt.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Retries: the n-th failed attempt waits BASE * 2^(n-1) seconds (at most MAX_DELAY), +-20 % jitter; a
# delivery is given up at its first failed attempt after RETRY_FOR_HOURS (so it is retried at least that long).
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_DELAY_SECONDS = env.float("WEBHOOK_RETRY_MAX_DELAY_SECONDS", default=3600.0)
WEBHOOK_RETRY_FOR_HOURS = env.float("WEBHOOK_RETRY_FOR_HOURS", default=24.0)
# An endpoint whose every attempt failed for this long is disabled (with a notice on the admin index).
WEBHOOK_DISABLE_AFTER_HOURS = env.float("WEBHOOK_DISABLE_AFTER_HOURS", default=72.0)
# Beat's sweep of due deliveries runs this often; a delivery handed to the broker but not attempted
# within WEBHOOK_REDISPATCH_AFTER seconds (a lost message) is handed over again.
WEBHOOK_SWEEP_SECONDS = env.float("WEBHOOK_SWEEP_SECONDS", default=10.0)
WEBHOOK_REDISPATCH_AFTER = env.int("WEBHOOK_REDISPATCH_AFTER", default=120)
# A worker sends the deliveries of one task message for at most this many seconds, then hands the rest back.
WEBHOOK_BATCH_SECONDS = env.float("WEBHOOK_BATCH_SECONDS", default=30.0)
# How long the previous secret keeps signing beside the new one after a rotation (rotate_webhook_secret's default).
WEBHOOK_SECRET_OVERLAP_HOURS = env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0)

CELERY_BEAT_SCHEDULE = {
    "onboarding-retention": {
        "task": "aggregation.retention_apply",
        "schedule": float(ONBOARDING_RETENTION_INTERVAL),
    },
    "onboarding-idempotency-keys-purge": {
        "task": "onboarding.idempotency_keys_purge",
        "schedule": 3600.0,
    },
    "onboarding-outbox-redispatch": {
        "task": "onboarding.outbox_redispatch_stale",
        "schedule": ONBOARDING_OUTBOX_SWEEP_SECONDS,
    },
    "webhooks-dispatch-due": {
        "task": "webhooks.dispatch_due",
        "schedule": WEBHOOK_SWEEP_SECONDS,
    },
    "onboarding-funnel-fold": {
        "task": "aggregation.fold_onboarding_funnel",
        "schedule": float(ONBOARDING_FUNNEL_FOLD_INTERVAL),
    },
    "onboarding-answers-nightly-export": {
        "task": "aggregation.export_onboarding_answers_nightly",
        "schedule": crontab(
            minute=_export_cron[0],
            hour=_export_cron[1],
            day_of_month=_export_cron[2],
            month_of_year=_export_cron[3],
            day_of_week=_export_cron[4],
        ),
    },
}

# --- Logging ----------------------------------------------------------------------------
# Every request gets an id (django-guid): taken from the proxy's X-Request-ID when it is a UUID,
# else generated; returned in the X-Request-ID response header and put on every log line of the
# request as request_id.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "EXPOSE_HEADER": False,  # CORS_EXPOSE_HEADERS names it; django-guid would overwrite that list
}
# LOG_FORMAT=json: one JSON object per line (python-json-logger), for a log collector; plain otherwise.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise environ.ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_guid.log_filters.CorrelationId", "correlation_id_field": "request_id"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "timestamp": "time",  # ISO 8601, UTC
            "rename_fields": {"levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # django-guid says at INFO whenever it generates an id, i.e. on nearly every request.
    # autoreload says at INFO what runserver already printed ("Watching for file changes").
    "loggers": {"django_guid": {"level": "WARNING"}, "django.utils.autoreload": {"level": "WARNING"}},
}
