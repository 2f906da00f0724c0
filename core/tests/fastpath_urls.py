"""Probe views for the ASGI handler's tests (test_fastpath.py): one async, one sync, one stream, and the size of a body
under /api/ (which skips sessions, users and messages); and pages, which have them: one that only reads, one that
writes its session and adds a message.
"""

import asyncio
import threading

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def _thread() -> HttpResponse:
    return HttpResponse(f"{threading.current_thread().name} {threading.get_ident()}")


async def async_view(request):
    return _thread()


def sync_view(request):
    return _thread()


async def stream_view(request):
    async def forever():
        yield b"first\n"
        await asyncio.sleep(3600)

    return StreamingHttpResponse(forever(), content_type="text/plain")


@csrf_exempt  # as the API's views are (django-ninja's)
async def size_view(request):
    return HttpResponse(str(len(request.body)))


def page_that_writes(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    messages.info(request, "saved")
    return _thread()


urlpatterns = [
    path("api/async", async_view), path("api/sync", sync_view), path("api/stream", stream_view),
    path("api/size", size_view), path("page/async", async_view), path("page/writes", page_that_writes),
]
