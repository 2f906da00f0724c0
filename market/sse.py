"""Server-sent event framing and the per-client stream over the process's price hub.

Frames are rendered once per tick by the hub (see hub.py); a client's generator only awaits the hub and
yields shared bytes. It never touches the ORM: the stream outlives the request's database connection.
"""

from __future__ import annotations

import json
import threading
from typing import AsyncIterator

from django.http import HttpResponseBase, StreamingHttpResponse

from market import stream_limit
from market.hub import PriceHub
from market.store import PriceStore, Tick, get_store
from market.stream_html import HTML_FORMAT, render_html

RETRY_MILLISECONDS = 2000
RETRY_FRAME = f"retry: {RETRY_MILLISECONDS}\n\n".encode()
KEEPALIVE_FRAME = b": keep-alive\n\n"
JSON_FORMAT = "prices"


def event(data: str, name: str | None = None) -> str:
    """One SSE event; every line of the payload gets its own `data:` prefix."""
    head = f"event: {name}\n" if name else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n"


def render_json(tick: Tick) -> bytes:
    """SPEC §6: one unnamed event per priced ticker, all of a tick's events sent in one write."""
    return "".join(
        event(json.dumps(quote.as_dict(), separators=(",", ":"))) for quote in tick.quotes
    ).encode()


# Other formats (the htmx UI's HTML fragments) register here and ride the same hub and ticks.
RENDERERS = {JSON_FORMAT: render_json, HTML_FORMAT: render_html}

_hubs: dict[str, PriceHub] = {}
_hubs_lock = threading.Lock()


def get_hub(store: PriceStore | None = None) -> PriceHub:
    store = store or get_store()
    with _hubs_lock:
        hub = _hubs.get(store.name)
        if hub is None:
            hub = _hubs[store.name] = PriceHub(store, RENDERERS)
        return hub


async def stream_frames(hub: PriceHub, fmt: str) -> AsyncIterator[bytes]:
    """Everything one client receives: the retry hint and the current prices at once, then each tick."""
    hub.attach()
    hub.clients += 1
    try:
        seen = None
        first = RETRY_FRAME
        if hub.latest is not None:
            seen = hub.latest.tick.seq
            first += hub.latest.frames[fmt]
        yield first
        while True:
            current = hub.latest
            # Only sleep when nothing new arrived while we were busy sending the previous frame.
            if current is None or current.tick.seq == seen:
                await hub.wait()
                current = hub.latest
                if current is None or current.tick.seq == seen:
                    yield KEEPALIVE_FRAME
                    continue
            seen = current.tick.seq
            yield current.frames[fmt]
    finally:
        # Also runs when the client goes away: Django cancels the response task at our await.
        hub.clients -= 1


def sse_response(frames: AsyncIterator[bytes]) -> HttpResponseBase:
    held = stream_limit.streams.hold(frames)  # at most MAX_STREAMS_PER_PROCESS open at once
    if held is None:
        return stream_limit.streams.refusal()
    response = StreamingHttpResponse(held, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy (nginx) in front must not buffer the stream
    return response
