"""Gunicorn's configuration for the web process (Procfile: `web`), read from the environment.

PORT (8000), WEB_CONCURRENCY (worker processes, 2 per core by default), GUNICORN_WORKER_CLASS
(gthread) and GUNICORN_THREADS (8 per worker), GUNICORN_TIMEOUT (30 s). Access
lines go to stdout, errors to stderr; the application's own logs follow LOG_FORMAT (settings).
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
# Threads: a worker serves GUNICORN_THREADS requests at once, so a quick request is not queued
# behind a slow one in the same process (a login's password hash takes ~0.3 s of CPU on a
# low-priority thread, onboarding/hashers.py, and the login's request thread waits meanwhile: 8
# threads keep a burst of logins from taking every thread). Each thread holds at most one database connection: keep
# DATABASE_POOL_MAX_SIZE (settings) at least this. GUNICORN_WORKER_CLASS=sync GUNICORN_THREADS=1
# is one request per process, as gunicorn does by default.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20  # in-flight requests get this long on a restart or Ctrl-C, then the worker stops
keepalive = 5  # seconds: longer than a typical load balancer's idle check would need is wasted workers
accesslog = "-"
errorlog = "-"
# The request id (X-Request-ID, set by the application) on every access line, next to the usual fields.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
# X-Forwarded-* is for the application to judge (SECURE_PROXY_SSL_HEADER, TRUSTED_PROXY_COUNT):
# gunicorn's own forwarded_allow_ips stays at its default (127.0.0.1, or FORWARDED_ALLOW_IPS).
