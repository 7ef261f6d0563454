"""Fail fast, with the fix, when PostgreSQL or Redis is not reachable for the test suite."""
import os
import sys

import environ
import psycopg
import redis

db = environ.Env.db_url_config(os.environ["DATABASE_URL"])
problems = []
try:
    psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", connect_timeout=5).close()
except psycopg.Error as exc:
    problems.append(
        f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT'] or 5432} ({exc}).\n"
        "  Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    )
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=5).ping()
except redis.RedisError as exc:
    problems.append(
        f"Redis is not reachable at {os.environ['REDIS_URL']} ({exc}).\n"
        '  Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'
    )
if problems:
    print("make test needs PostgreSQL and Redis:\n" + "\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("PostgreSQL and Redis are reachable.")
