"""Getting a process ready to serve, in the process itself: migrate and collect static files only if needed.

`make run` used to start three Pythons one after another (migrate, collectstatic, then the server), about a
second each, even when nothing had changed. Now the web server and the price worker each check at start,
in-process and in milliseconds, whether the database lacks a migration (Django's own migration plan) and, for
the web server, whether the static sources differ from what was last collected (a fingerprint of every file
the static finders see: path, size, modification time). Only then do they run `migrate` or `collectstatic`,
under a lock, so that processes starting together do it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from core.migrating import unapplied_migrations

logger = logging.getLogger(__name__)

FINGERPRINT_NAME = ".sources-fingerprint"
# What collectstatic ignores by default.
IGNORE_PATTERNS = ["CVS", ".*", "*~"]


def migrate_if_needed() -> bool:
    """Apply what is missing (a new database is also seeded then, by post_migrate); True if anything was.

    Two processes starting at once on a new database both get here: core's `migrate` takes the migration lock,
    so the second waits and then finds nothing left to apply. Only the one that applied says so.
    """
    if not unapplied_migrations():
        return False
    from core.management.commands.migrate import Command as Migrate

    migrate = Migrate()
    call_command(migrate, interactive=False, verbosity=0)
    if migrate.applied:
        logger.info("database migrated (%d migrations applied)", migrate.applied)
    return bool(migrate.applied)


def static_fingerprint() -> str:
    """A digest of every file collectstatic would copy (path, size, modification time) and where it goes."""
    from django.contrib.staticfiles import finders

    digest = hashlib.sha256(f"{settings.STORAGES['staticfiles']['BACKEND']} {settings.STATIC_ROOT}".encode())
    entries = []
    for finder in finders.get_finders():
        for path, storage in finder.list(IGNORE_PATTERNS):
            prefix = getattr(storage, "prefix", None) or ""
            stat = Path(storage.path(path)).stat()
            entries.append(f"{prefix}/{path} {stat.st_size} {stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    return digest.hexdigest()


def _fingerprint_file() -> Path:
    return Path(settings.STATIC_ROOT) / FINGERPRINT_NAME


def record_static_fingerprint(fingerprint: str) -> None:
    """Called by collectstatic once it has collected, with the sources' fingerprint from before it began."""
    _fingerprint_file().write_text(fingerprint)


def static_is_current() -> bool:
    try:
        return _fingerprint_file().read_text() == static_fingerprint()
    except FileNotFoundError:
        return False


@contextmanager
def _static_lock():
    root = Path(settings.STATIC_ROOT)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(root.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def collect_static_if_changed() -> bool:
    """Run collectstatic unless what it last collected is still what the sources hold; True if it ran."""
    if static_is_current():
        return False
    try:
        with _static_lock():
            if static_is_current():  # another process collected while we waited
                return False
            call_command("collectstatic", interactive=False, verbosity=0)
    except OSError as exc:
        # A read-only install (the container image runs as a user who owns no code): serve what was collected
        # at build time rather than not at all.
        logger.warning("static files could not be collected (%s); serving the collected ones", exc)
        return False
    logger.info("static files collected")
    return True
