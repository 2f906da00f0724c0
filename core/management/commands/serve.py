"""`manage.py serve`: the web server, in one Python process that first migrates and collects static files if needed."""

import resource

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from core.startup import collect_static_if_changed, migrate_if_needed

# macOS refuses a soft limit above OPEN_MAX (10240) even when the hard limit says "unlimited".
MACOS_OPEN_MAX = 10240


def raise_open_file_limit() -> int:
    """The soft open-file limit, first raised as far as the hard limit allows; a shell's default soft limit
    (1024 on Linux, 256 on macOS) is far below what the stream cap means to allow."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = [hard] if hard != resource.RLIM_INFINITY else []
    wanted += [2**20, MACOS_OPEN_MAX]  # for an unlimited hard limit, or one the system will not grant whole
    for limit in wanted:
        if soft != resource.RLIM_INFINITY and soft < limit and (hard == resource.RLIM_INFINITY or limit <= hard):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
            except (ValueError, OSError):
                continue
            soft = limit
            break
    return soft


class Command(BaseCommand):
    help = "Serve the app with uvicorn, after applying missing migrations and collecting changed static files."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        import uvicorn
        from django.db import connections

        from core.http_server import LimitedHeadProtocol

        migrate_if_needed()
        collect_static_if_changed()
        # This thread becomes the event loop's, where Django allows no database work: leave it no connection.
        connections.close_all()
        # The project's ASGI application, imported after the checks (its start-up work covers them too).
        application = import_string(settings.ASGI_APPLICATION)

        # Every price stream is a socket: the stream cap is fitted to this limit (market/stream_limit.py).
        raise_open_file_limit()
        # uvicorn bounds a request's head only with its h11 parser; this bounds it with httptools (core/http_server.py).
        LimitedHeadProtocol.max_head_bytes = settings.MAX_REQUEST_HEADER_BYTES
        LimitedHeadProtocol.max_body_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        LimitedHeadProtocol.head_timeout = settings.REQUEST_HEAD_TIMEOUT_SECONDS
        # Open price streams never end on their own, so the graceful shutdown is bounded. No WebSockets (ws="none"):
        # the app serves none, and with uvicorn's websockets protocol an upgrade to any path reached Django as a
        # "websocket" scope it refuses with a 500, before the Host check; as plain HTTP it gets the usual checks.
        # LOG_FORMAT=json: uvicorn's own lines go through Django's logging too (log_config=None leaves its loggers
        # without handlers of their own), so every line of the process is one JSON object.
        logging_config = {"log_config": None} if settings.LOG_FORMAT == "json" else {}
        uvicorn.run(
            application, host=host, port=port, timeout_graceful_shutdown=3, access_log=False, log_level="warning",
            http=LimitedHeadProtocol, ws="none", **logging_config,
        )
