"""Django's `migrate`, serialized: `make web` and `make worker` started together on a new database both
migrate, and the loser used to fail with "table already exists"."""

from django.core.management.commands import migrate

from core.migrating import migration_lock, unapplied_migrations


class Command(migrate.Command):
    applied = 0  # how many migrations this run applied (the process that waited on the lock applies none)

    def handle(self, *args, **options):
        # The second process waits here, then finds nothing left to apply (seeding is idempotent too).
        with migration_lock(options["database"]):
            self.applied = len(unapplied_migrations(options["database"]))
            return super().handle(*args, **options)
