"""A cap on the price streams one web process holds open (settings.MAX_STREAMS_PER_PROCESS).

Every open stream costs the process memory (about 45 KB) and a share of each tick's fan-out; without a cap, one
client could open streams until the process served nobody well. Past the cap a new stream gets a 503 with
Retry-After (the page's htmx-ext-sse reconnects with its own backoff).

A stream takes its place when its response is made, so the cap is exact however many connect at once, and gives
it back when it ends, however it ends: in the generator's `finally` (an error, or the client going away, when
Django cancels it at its await), or, for a stream whose client left before its first byte (its generator never
ran), when the response is dropped.

A place is taken before the stream's view does any other work (market/sse.py `open_stream`): a reconnect storm
past the cap is refused without touching the database.

The cap is also bounded by the process's open-file limit: every stream is a socket, and with the default cap
above a shell's usual limit (1024 on Linux, 256 on macOS) the 503 never fired; accept() failed instead and every
other request with it. `manage.py serve` raises the soft limit to the hard one before it serves; the first
stream reads the limit then in force and keeps what is left after OPEN_FILES_RESERVE as `ceiling`.
"""

from __future__ import annotations

import logging
import resource
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator

from django.conf import settings
from django.http import JsonResponse

from core import metrics

RETRY_AFTER_SECONDS = 10

logger = logging.getLogger(__name__)


def open_files_ceiling() -> int | None:
    """How many streams the process's open-file limit leaves room for, after OPEN_FILES_RESERVE for the
    database, the price store and other clients; None when the limit is unlimited. Said once when it is
    below MAX_STREAMS_PER_PROCESS."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    reserve = min(settings.OPEN_FILES_RESERVE, soft // 2)  # a tiny limit still leaves some streams
    ceiling = max(1, soft - reserve)
    if ceiling < settings.MAX_STREAMS_PER_PROCESS:
        logger.warning(
            "The open-file limit is %d: at most %d price streams (MAX_STREAMS_PER_PROCESS is %d; %d files kept "
            "for the rest). Raise the limit (ulimit -n) to allow more.",
            soft, ceiling, settings.MAX_STREAMS_PER_PROCESS, reserve,
        )
    return ceiling


class StreamLimit:
    def __init__(self) -> None:
        self.open = 0
        self._ceiling: int | None = None
        self._ceiling_read = False
        self._lock = threading.Lock()  # a dropped response may be collected on another thread

    @property
    def ceiling(self) -> int | None:
        # Read at the first stream, not at import: `manage.py serve` raises the limit before it serves.
        if not self._ceiling_read:
            self._ceiling, self._ceiling_read = open_files_ceiling(), True
        return self._ceiling

    @property
    def cap(self) -> int:
        configured = settings.MAX_STREAMS_PER_PROCESS
        ceiling = self.ceiling
        return configured if ceiling is None else min(configured, ceiling)

    def take(self) -> Place | None:
        """A place for one stream, given back by calling it; None if this process holds as many as it may."""
        with self._lock:
            if self.open >= self.cap:
                return None
            self.open += 1
        return Place(self)

    def hold(self, frames: AsyncGenerator[bytes, None], place: Place | None = None) -> AsyncIterator[bytes] | None:
        """`frames`, counted as open until it ends, in `place` (or one taken now); None if there is none."""
        release = place or self.take()
        if release is None:
            return None
        held = _held(frames, release)
        weakref.finalize(held, release)
        return held

    def refusal(self) -> JsonResponse:
        response = JsonResponse(
            {"error": "This server has as many price streams open as it serves; try again shortly."}, status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class Place:
    """Gives a stream's place back once, whichever of its ends comes first."""

    __slots__ = ("_limit",)

    def __init__(self, limit: StreamLimit) -> None:
        self._limit: StreamLimit | None = limit

    def __call__(self) -> None:
        limit, self._limit = self._limit, None
        if limit is not None:
            with limit._lock:
                limit.open -= 1


async def _held(frames: AsyncGenerator[bytes, None], release: Place) -> AsyncIterator[bytes]:
    try:
        async for frame in frames:
            yield frame
    finally:
        release()
        await frames.aclose()


streams = StreamLimit()
metrics.measure(metrics.OPEN_STREAMS, lambda: streams.open)
