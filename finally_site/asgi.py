"""ASGI entry point: daphne (runserver) and uvicorn (make run, Docker) both serve this."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does, before our handler

from core.error_tracking import wrap_asgi  # noqa: E402  (needs the apps loaded)
from core.fastpath import ASGIHandler, tune_gc  # noqa: E402

# Django's handler, without the thread hops of requests that run no sync code (core/fastpath.py); with SENTRY_DSN,
# inside Sentry's ASGI middleware (a scope per request: core/error_tracking.py).
application = wrap_asgi(ASGIHandler())
tune_gc()
