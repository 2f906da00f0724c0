"""Django's `migrate`, serialized: `make web` and `make worker` started together on a new database both
migrate, and the loser used to fail with "table already exists"."""

import fcntl
from contextlib import contextmanager
from pathlib import Path

from django.core.management.commands import migrate
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


class Command(migrate.Command):
    applied = 0  # how many migrations this run applied (the process that waited on the lock applies none)

    def handle(self, *args, **options):
        # The second process waits here, then finds nothing left to apply (seeding is idempotent too).
        with migration_lock(options["database"]):
            from core.startup import unapplied_migrations

            self.applied = len(unapplied_migrations(options["database"]))
            return super().handle(*args, **options)
