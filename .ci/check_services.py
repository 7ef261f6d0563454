"""Fail fast, with the fix, when PostgreSQL or Redis is not reachable (the test suite, `make stack`).

--create-database: also create DATABASE_URL's database when it does not exist yet.
"""

import os
import sys

import environ
import psycopg
import psycopg.sql
import redis

db = environ.Env.db_url_config(os.environ["DATABASE_URL"])
problems = []
try:
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        connect_timeout=5,
        autocommit=True,
    ) as server:
        # `make stack` runs against a database of its own: create it the first time.
        if (
            "--create-database" in sys.argv
            and not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        ):
            server.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(db["NAME"])))
            print(f"Created the database {db['NAME']}.")
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
    print("PostgreSQL and Redis are needed:\n" + "\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("PostgreSQL and Redis are reachable.")
