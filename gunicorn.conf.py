"""Gunicorn's configuration for the web process (Procfile: `web`), read from the environment.

PORT (8000), WEB_CONCURRENCY (workers, 2 per core by default), GUNICORN_TIMEOUT (30 s). Access
lines go to stdout, errors to stderr; the application's own logs follow LOG_FORMAT (settings).
"""
import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20  # in-flight requests get this long on a restart or Ctrl-C, then the worker stops
keepalive = 5  # seconds: longer than a typical load balancer's idle check would need is wasted workers
accesslog = "-"
errorlog = "-"
# The request id (X-Request-ID, set by the application) on every access line, next to the usual fields.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
# X-Forwarded-* is for the application to judge (SECURE_PROXY_SSL_HEADER, TRUSTED_PROXY_COUNT):
# gunicorn's own forwarded_allow_ips stays at its default (127.0.0.1, or FORWARDED_ALLOW_IPS).
