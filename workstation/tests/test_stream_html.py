"""The HTML tick format: rendered once per tick by the hub, framed for SSE, the same bytes for every client."""

import asyncio
import dataclasses
import time

import pytest

from market.hub import PriceHub
from market.quotes import Quote, Tick
from market.sse import RENDERERS, stream_frames
from workstation.stream_html import EVENT_NAME, HTML_FORMAT, render_fragment, render_html


def tick(*quotes, seq=7, at=1_800_000_000.5):
    return Tick(seq=seq, produced_at=at, quotes=tuple(quotes), interval=0.5)


# Received from the source in the tick they are rendered in; the timestamp is the source's trade time.
AAPL = Quote("AAPL", 191.5, 190.0, 190.0, "2027-01-15T08:00:00.500Z", "up", 1_800_000_000.5)
PENNY = Quote("ABC", 0.4321, 0.44, 0.5, "2027-01-15T08:00:00.500Z", "down", 1_800_000_000.5)


def test_registered_with_the_hub():
    assert RENDERERS[HTML_FORMAT] is render_html


def test_one_named_event_one_data_line():
    frame = render_html(tick(AAPL, PENNY)).decode()
    lines = frame.split("\n")
    assert lines[0] == f"event: {EVENT_NAME}"
    assert lines[1].startswith("data: <ol data-seq=\"7\" data-at=\"1800000000.5\">")
    assert lines[2:] == ["", ""]  # one data line, then the blank line that ends the event


def test_each_quote_formatted_and_raw():
    html = render_fragment(tick(AAPL, PENNY))
    assert ('<li data-t="AAPL" data-p="191.5" data-o="190.0" data-d="up">'
            '<b>191.50</b><i class="up">+0.79%</i></li>') in html
    assert ('<li data-t="ABC" data-p="0.4321" data-o="0.5" data-d="down">'
            '<b>0.4321</b><i class="down">-13.58%</i></li>') in html


def test_a_quote_its_source_stopped_sending_is_marked_stale():
    """The feed ticks on, but HALT's price was last received 30 s ago: the page marks its row (workstation.js)."""
    halted = Quote("HALT", 12.5, 12.5, 12.0, "2027-01-15T08:00:00.500Z", "flat", 1_800_000_000.5 - 30)
    html = render_fragment(tick(AAPL, halted))
    assert '<li data-t="HALT" data-p="12.5" data-o="12.0" data-d="flat" data-s="1799999970.5">' in html  # received
    assert '<li data-t="AAPL" data-p="191.5" data-o="190.0" data-d="up">' in html
    # Within the limit (a few intervals, at least 5 s) it is live: one slow poll is no halt.
    slow = dataclasses.replace(halted, received_at=1_800_000_000.5 - 4)
    assert "data-s=" not in render_fragment(tick(AAPL, slow))


def test_independent_of_any_portfolio():
    # No database access is allowed in this test: the shared render depends on no user's data.
    assert b"AAPL" in render_html(tick(AAPL))


def test_cheap_enough_to_render_every_tick():
    quotes = [Quote(f"T{i}", 100.0 + i, 100.0, 99.0, "x", "up") for i in range(100)]
    render_html(tick(*quotes))
    start = time.perf_counter()
    for _ in range(50):
        render_html(tick(*quotes))
    assert (time.perf_counter() - start) / 50 < 0.02  # 100 tickers well under a tick's budget


@pytest.mark.anyio
async def test_clients_share_the_hub_bytes(price_store, publish):
    publish({"AAPL": 191.5})
    hub = PriceHub(price_store, RENDERERS)
    try:
        a, b = stream_frames(hub, HTML_FORMAT), stream_frames(hub, HTML_FORMAT)
        await asyncio.wait_for(a.__anext__(), 5)  # retry hint; attaches and starts the reader
        await asyncio.wait_for(b.__anext__(), 5)
        publish({"AAPL": 192.0})
        fa, fb = await asyncio.wait_for(a.__anext__(), 5), await asyncio.wait_for(b.__anext__(), 5)
        while b"192.00" not in fa:
            fa = await asyncio.wait_for(a.__anext__(), 5)
        while b"192.00" not in fb:
            fb = await asyncio.wait_for(b.__anext__(), 5)
        assert fa is fb  # the very same bytes object: rendered once, shared
        await a.aclose()
        await b.aclose()
    finally:
        hub.stop()


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_the_pages_first_frame_leaves_out_a_ticker_just_removed(async_client, price_store, publish):
    from market.sse import get_hub

    publish({"AAPL": 191.5, "NFLX": 600.0})
    hub = get_hub(price_store)
    watching = stream_frames(hub, HTML_FORMAT)
    try:
        while b'data-t="NFLX"' not in await asyncio.wait_for(watching.__anext__(), 5):
            pass
        assert (await async_client.post("/watchlist/NFLX/remove", headers={"HX-Request": "true"})).status_code == 200
        response = await async_client.get("/stream/prices")
        frames = aiter(response.streaming_content)
        try:
            first = await asyncio.wait_for(anext(frames), 5)
        finally:
            await frames.aclose()
        assert b'data-t="AAPL"' in first and b'data-t="NFLX"' not in first
    finally:
        await watching.aclose()


def _book_events(url: str, seconds: float, during) -> list[str]:
    """The `book` events the page's stream at `url` carries while `during()` runs (in another thread)."""
    import threading

    import httpx

    seen: list[str] = []
    opened = threading.Event()

    def read():
        with httpx.Client(timeout=httpx.Timeout(5.0, read=seconds + 5)) as client:
            with client.stream("GET", url) as response:
                opened.set()
                deadline = time.monotonic() + seconds
                name = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line[len("event: "):]
                    elif line.startswith("data: ") and name == "book":
                        seen.append(line[len("data: "):])
                    elif not line:
                        name = None
                    if time.monotonic() > deadline:
                        return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert opened.wait(10)
    time.sleep(1.0)  # the hub reads this user's version once before anything changes
    during()
    thread.join(seconds + 10)
    return seen


def test_a_fill_made_elsewhere_reaches_the_pages_stream_as_a_book_event(live_stack):
    """Issue 21 (and issue 20's open end): an order from another tab, a script or the assistant refreshes the open
    page's book. With accounts off the page and the script are the same implicit user."""
    import httpx

    def trade():
        response = httpx.post(live_stack.base_url + "/api/portfolio/trade",
                              json={"ticker": "AAPL", "quantity": 1, "side": "buy"})
        assert response.status_code == 201

    events = _book_events(live_stack.base_url + "/stream/prices", 3.0, trade)
    assert len(events) == 1, events
