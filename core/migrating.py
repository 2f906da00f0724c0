"""Migrating safely when several processes start at once: the migration lock, and what is left to apply.

`make web` and `make worker` started together on a new database both migrate; the loser used to fail with
"table already exists". Core's `migrate` command and start-up (core/startup.py) both use these.
"""

import fcntl
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

# Any constant works: it only has to be the same for every process migrating one PostgreSQL database.
PG_ADVISORY_LOCK_ID = 0x46696E41


@contextmanager
def migration_lock(database: str):
    connection = connections[database]
    if connection.vendor == "postgresql":
        # The processes may run on different machines: the database itself is the only place they share.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [PG_ADVISORY_LOCK_ID])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [PG_ADVISORY_LOCK_ID])
    elif connection.vendor == "sqlite" and not connection.is_in_memory_db():
        # Everyone using a SQLite file is on its machine: a lock file beside it (released if we crash).
        path = Path(connection.settings_dict["NAME"]).with_suffix(".migrate.lock")
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
    else:
        yield


def unapplied_migrations(database: str = "default") -> list:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[database])
    return executor.migration_plan(executor.loader.graph.leaf_nodes())
