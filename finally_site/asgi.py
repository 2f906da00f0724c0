"""ASGI entry point: daphne (runserver) and uvicorn (make run, Docker) both serve this."""

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does, before our handler

from finally_site.handler import ASGIHandler  # noqa: E402  (needs the apps loaded)

# Django's handler, without the thread hops of requests that run no sync code (handler.py).
application = ASGIHandler()

# A web process holds hundreds of long-lived price streams. With CPython's default thresholds, the
# short-lived objects of each tick's fan-out were promoted to the oldest generation, and its full
# collections (over every stream's objects) paused the event loop for up to 160 ms, delaying a whole
# tick for every client (bench/README.md). Collect young objects less often so they die uncollected,
# and keep everything loaded at start-up out of the collector's walks.
gc.set_threshold(50_000, 20, 20)
gc.freeze()
