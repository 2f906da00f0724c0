"""Server-sent event framing and the per-client stream over the process's price hub.

Frames are rendered once per tick by the hub (see hub.py); a client's generator only awaits the hub and
yields shared bytes. It never touches the ORM: the stream outlives the request's database connection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Collection

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.http import HttpResponseBase, StreamingHttpResponse

from market import selectors, stream_limit
from market.hub import PriceHub, Renderer
from market.quotes import Tick
from market.store import PriceStore, get_store

RETRY_MILLISECONDS = 2000
RETRY_FRAME = f"retry: {RETRY_MILLISECONDS}\n\n".encode()
KEEPALIVE_FRAME = b": keep-alive\n\n"
USER_EVENT = "book"  # something of the stream's user changed (a fill from anywhere): its page reloads its book
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


# The stream formats by name, each rendered once per tick by the hub and shared by every client of that format.
# The API's JSON is market's own; an app above market adds its format with register_format (the workstation's
# HTML, in its AppConfig.ready), so that market knows nothing of any UI.
RENDERERS: dict[str, Renderer] = {JSON_FORMAT: render_json}

_hubs: dict[str, PriceHub] = {}
_hubs_lock = threading.Lock()


def register_format(name: str, render: Renderer) -> None:
    """Stream ticks as `render(tick)` to whoever opens a stream in format `name`.

    Only at start-up (an AppConfig.ready): a hub shares RENDERERS with its reader thread, which iterates it at
    every tick, and counts its streams per format from the formats known when it was made; so once a hub exists
    the set of formats is fixed, and a late registration is refused rather than racing it.
    """
    with _hubs_lock:
        if _hubs:
            raise RuntimeError(f"stream format {name!r} registered after a price stream opened; register it in ready()")
        if RENDERERS.get(name, render) is not render:
            raise ValueError(f"stream format {name!r} is already registered")
        RENDERERS[name] = render


def get_hub(store: PriceStore | None = None) -> PriceHub:
    store = store or get_store()
    with _hubs_lock:
        hub = _hubs.get(store.name)
        if hub is None:
            hub = _hubs[store.name] = PriceHub(store, RENDERERS)
        return hub


def _read_priced() -> frozenset[str] | None:
    try:
        return frozenset(selectors.priced_tickers())
    except DatabaseError:
        return None
    finally:
        if not connection.in_atomic_block:
            connection.close()  # not held for the hours a stream may last


async def priced_now() -> frozenset[str] | None:
    """The tickers priced as a stream opens (watched or held), for its first frame; None if the database cannot
    say. Read once, before the stream starts: the stream itself never touches the ORM."""
    return await sync_to_async(_read_priced)()


async def stream_frames(
    hub: PriceHub, fmt: str, *, priced: Collection[str] | None = None, user: str | None = None,
    since: int | None = None,
) -> AsyncIterator[bytes]:
    """Everything one client receives: the retry hint and the current prices at once, then each tick; with `user`,
    also a `book` event whenever that user's version moves (hub.py), right after the tick it was read with.
    `since`: the version the client last showed (its page's), so a change between the page and its stream (or
    while a stream reconnects) is told too; without it, the first version read is the starting point.

    The current prices are the last tick the hub read, which may predate a change of the watchlist (the worker
    drops a removed ticker at its next tick): given `priced`, the tickers priced now, the first frame leaves out
    any other, so a ticker removed a moment ago is not shown to a client that connects after the removal.
    """
    hub.attach()
    hub.clients += 1
    hub.streams[fmt] += 1
    if user is not None:
        hub.users[user] += 1
    version = since if since is not None else hub.user_versions.get(user)
    try:
        seen = None
        first = RETRY_FRAME
        latest = hub.latest
        if latest is not None:
            seen = latest.tick.seq
            first += hub.frame(latest, fmt, priced)
        yield first
        while True:
            current = hub.latest
            # Only sleep when nothing new arrived while we were busy sending the previous frame.
            if current is None or current.tick.seq == seen:
                await hub.wait()
                current = hub.latest
            frame = b""
            if current is not None and current.tick.seq != seen:
                seen = current.tick.seq
                frame = hub.frame(current, fmt)
            if user is not None:
                latest_version = hub.user_versions.get(user)
                # None: not read yet (the stream just opened, after its page was rendered): nothing to tell.
                if latest_version is not None and version is not None and latest_version != version:
                    frame += event(str(latest_version), USER_EVENT).encode()
                version = latest_version if latest_version is not None else version
            yield frame or KEEPALIVE_FRAME
    finally:
        # Also runs when the client goes away: Django cancels the response task at our await.
        hub.clients -= 1
        hub.streams[fmt] -= 1
        if user is not None:
            hub.users[user] -= 1
            if hub.users[user] <= 0:
                del hub.users[user]


async def open_stream(fmt: str, *, user: str | None = None, since: int | None = None) -> HttpResponseBase:
    """A price stream in format `fmt`, or the 503 past the cap: refused before any database work, so that
    clients reconnecting to a full process do not each cost a query.

    `fmt` is chosen by the view (each route serves one format), never by the client: an unknown one is a
    server fault, raised here before a place is taken, not a stream that answers 200 and then breaks. `user`: the
    request's own user (never one a client names), whose `book` events the stream also carries."""
    if fmt not in RENDERERS:
        raise LookupError(f"no stream format {fmt!r}; registered: {', '.join(sorted(RENDERERS))}")
    place = stream_limit.streams.take()
    if place is None:
        return stream_limit.streams.refusal()
    try:
        priced = await priced_now()
    except BaseException:  # the client left (cancelled), or worse: the place is given back either way
        place()
        raise
    return sse_response(stream_frames(get_hub(), fmt, priced=priced, user=user, since=since), place)


def sse_response(frames: AsyncIterator[bytes], place: stream_limit.Place | None = None) -> HttpResponseBase:
    held = stream_limit.streams.hold(frames, place)  # at most the stream cap open at once
    if held is None:
        return stream_limit.streams.refusal()
    response = StreamingHttpResponse(held, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy (nginx) in front must not buffer the stream
    return response
