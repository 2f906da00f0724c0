"""The project's URLs and one view that fails, for test_error_tracking.py: what a request's error sends to Sentry."""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from finally_site.urls import urlpatterns as project


@csrf_exempt
def fail(request):
    from django.conf import settings

    # An error whose message carries a configured key and a token, as a careless one from a library might.
    raise RuntimeError(f"provider said no to key {settings.OPENROUTER_API_KEY} (Bearer tok-in-message-123456)")


urlpatterns = [path("api/chat-fails/chat", fail), path("fails", fail), *project]
