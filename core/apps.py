import sys

from django.apps import AppConfig
from django.core.signals import got_request_exception
from django.db import DatabaseError


class CoreConfig(AppConfig):
    """What every app shares and no app knows of: the data layer's conventions and threads, the fast path, the API's
    error contract, formatting, start-up and the commands that serve it (`serve`, a `migrate` safe to start twice)."""

    name = "core"

    def ready(self):
        from core import error_tracking

        got_request_exception.connect(_count_database_error, dispatch_uid="core.metrics.database_errors")
        error_tracking.start()  # SENTRY_DSN set: in the web processes and the price worker alike


def _count_database_error(sender, **kwargs) -> None:
    """A database error no handler answered (a page's 500): counted (core.metrics). The API's are counted where it
    answers them (finally_site.api: a 503)."""
    from core import metrics

    if isinstance(sys.exc_info()[1], DatabaseError):
        metrics.DATABASE_ERRORS.inc()
