"""Settings, read once from the environment through one environ.Env(), top to bottom by concern.

The embedded default needs no environment at all: SQLite, Celery tasks in-process, console
e-mail. Production sets SECRET_KEY, DEBUG=false, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL.
Sections: core, database, auth, onboarding, API, Celery, export, logging.
"""
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
# A development default only; with DEBUG off the environment must provide a real key.
SECRET_KEY = env("SECRET_KEY", default="" if not DEBUG else "dev-insecure-onboarding-secret-key-change-me")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc assets served locally, no CDN
    "formtools",
    "onboarding",
    "aggregation",
    "adminapi",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",  # first: it answers preflights before anything else may
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "onboarding.middleware.OnboardingGuardMiddleware",
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
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Request bodies beyond this are refused before a view parses them (the API answers 413/400).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="onboarding@localhost")

# --- Database ---------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "onboarding:start"
LOGOUT_REDIRECT_URL = "login"

# --- Onboarding -------------------------------------------------------------------------
# Bumping this resets in-progress sessions of older versions to the new baseline on next access.
ONBOARDING_VERSION = env.int("ONBOARDING_VERSION", default=1)
# Paths the onboarding guard never redirects: the API and admin answer for themselves, the auth
# pages must stay reachable, static files are files. (STATIC_URL is added by the middleware.)
ONBOARDING_GUARD_EXEMPT_PREFIXES = ("/api/", "/admin/", "/accounts/", "/favicon.ico")

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
    "EXCEPTION_HANDLER": "onboarding.api.errors.api_exception_handler",
}
# Bearer tokens for cross-origin SPAs: a short-lived access token, renewed with the refresh token.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("API_ACCESS_TOKEN_LIFETIME_SECONDS", default=5 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("API_REFRESH_TOKEN_LIFETIME_SECONDS", default=24 * 3600)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}
# Authenticated writes (PATCH/POST) per user, and token requests per client address ("N/sec|min|hour|day";
# empty disables). Counted in the default cache, i.e. per process unless CACHES points at a shared one.
API_WRITE_THROTTLE_RATE = env("API_WRITE_THROTTLE_RATE", default="120/min") or None
API_TOKEN_THROTTLE_RATE = env("API_TOKEN_THROTTLE_RATE", default="30/min") or None
# Cross-origin SPAs (bearer token only: no cookies cross-origin). Origins such as
# https://app.example.com; none by default. ETag is exposed so the SPA can send it back as If-Match.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "if-match"]
CORS_EXPOSE_HEADERS = ["ETag", "Retry-After"]

SPECTACULAR_SETTINGS = {
    "TITLE": "Onboarding platform API",
    "DESCRIPTION": "Progress and completion of the onboarding flow, and staff-only answer analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default=None)
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # The embedded default: tasks run in-process, right after the transaction commits.
    CELERY_BROKER_URL = "memory://"
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

# The ingestion task's limits, read by aggregation/tasks.py and by the visibility timeout below.
ONBOARDING_INGEST_TIME_LIMIT = 120          # seconds; the soft limit is 20 s earlier
ONBOARDING_INGEST_RETRY_BACKOFF_MAX = 600   # seconds between retries at most
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message unacknowledged this long (a killed worker) goes back to the queue. It must exceed
    # the longest task and the longest retry countdown, or a slow task would run twice at once.
    "visibility_timeout": max(3600, 2 * (ONBOARDING_INGEST_TIME_LIMIT + ONBOARDING_INGEST_RETRY_BACKOFF_MAX)),
    "max_retries": 1,                 # connection attempts when publishing, then fail
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    "retry_on_timeout": True,
    "health_check_interval": 25,
}
# A pending outbox message not acknowledged after this many seconds is dispatched again (beat, every 60 s).
ONBOARDING_OUTBOX_REDISPATCH_AFTER = env.int("ONBOARDING_OUTBOX_REDISPATCH_AFTER", default=300)

# --- Export -----------------------------------------------------------------------------
# Where the default export storage writes runs; S3 (django-storages) is a change of backend here.
ONBOARDING_ANSWERS_EXPORT_PATH = env("ONBOARDING_ANSWERS_EXPORT_PATH", default=str(BASE_DIR / "exports"))
STORAGES["onboarding_exports"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": ONBOARDING_ANSWERS_EXPORT_PATH},
}
# When beat starts the nightly export: a cron expression (minute hour day-of-month month day-of-week), UTC.
ONBOARDING_ANSWERS_EXPORT_CRON = env("ONBOARDING_ANSWERS_EXPORT_CRON", default="0 2 * * *")
_export_cron = ONBOARDING_ANSWERS_EXPORT_CRON.split()

CELERY_BEAT_SCHEDULE = {
    "onboarding-outbox-redispatch": {
        "task": "onboarding.outbox_redispatch_stale",
        "schedule": 60.0,
    },
    "onboarding-answers-nightly-export": {
        "task": "aggregation.export_onboarding_answers_nightly",
        "schedule": crontab(
            minute=_export_cron[0], hour=_export_cron[1], day_of_month=_export_cron[2],
            month_of_year=_export_cron[3], day_of_week=_export_cron[4],
        ),
    },
}

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
