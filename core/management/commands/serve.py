"""`manage.py serve`: the web server, in one Python process that first migrates and collects static files if needed."""

from django.conf import settings
from django.core.management.base import BaseCommand

from core.startup import collect_static_if_changed, migrate_if_needed


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
        from finally_site.asgi import application  # imported after the checks: its gc.freeze() covers them too

        # uvicorn bounds a request's head only with its h11 parser; this bounds it with httptools (core/http_server.py).
        LimitedHeadProtocol.max_head_bytes = settings.MAX_REQUEST_HEADER_BYTES
        # Open price streams never end on their own, so the graceful shutdown is bounded.
        uvicorn.run(
            application, host=host, port=port, timeout_graceful_shutdown=3, access_log=False, log_level="warning",
            http=LimitedHeadProtocol,
        )
