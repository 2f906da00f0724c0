"""ASGI entry point: daphne (runserver) and uvicorn (make run, Docker) both serve this."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finally_site.settings")

application = get_asgi_application()
