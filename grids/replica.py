"""Reads that may be served by a read replica: statistics and exports (issue 17).

With ``DATABASE_REPLICA_URL`` set, settings add a database alias ``replica`` (a PostgreSQL streaming replica,
or any copy that lags the primary by seconds) and :class:`ReplicaRouter`. Reads inside
:func:`statistics_reads` then go to the replica; every other read and every write goes to ``default``, so
the lifecycle always reads its own writes. The statistics are exact on the replica too: its summary rows and
pending deltas are replicated together (``cases.summary``), so a reading there equals a direct count over
the replica's cases, a few seconds behind the primary at most.

Which requests read from the replica is the project's choice (``xiji_grid.middleware.ReplicaReadsMiddleware``
wraps the dashboard, its exports and the statistics API); commands wrap themselves (``manage.py stats``).
"""
from __future__ import annotations

import contextlib
import contextvars

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA = "replica"
_replica_reads = contextvars.ContextVar("xiji_replica_reads", default=False)


def replica_configured() -> bool:
    """Whether a replica alias is configured (``DATABASE_REPLICA_URL``)."""
    return REPLICA in settings.DATABASES


@contextlib.contextmanager
def statistics_reads():
    """Within the block, ORM reads (and :func:`read_alias`) use the replica when one is configured.
    Writes are unaffected. Nests; safe in threads and async code (a context variable)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def read_alias() -> str:
    """The database alias a statistics read should use now: ``replica`` inside :func:`statistics_reads`
    when configured, else ``default``. For raw SQL (``connections[read_alias()]``)."""
    return REPLICA if _replica_reads.get() and replica_configured() else DEFAULT_DB_ALIAS


class ReplicaRouter:
    """Django database router: reads inside :func:`statistics_reads` → ``replica``; everything else, and
    every write and migration → ``default``. Objects of both aliases relate freely (same data)."""

    def db_for_read(self, model, **hints):
        return REPLICA if _replica_reads.get() and replica_configured() else None

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA
