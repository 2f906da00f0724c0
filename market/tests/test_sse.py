"""The price stream, driven directly: framing, the first frame, fan-out of each tick, disconnect."""

import asyncio
import json

import pytest

from market import hub as hub_module
from market.sse import KEEPALIVE_FRAME, RETRY_FRAME, event, get_hub, render_json, stream_frames


def parse_events(frame: bytes) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in frame.decode().splitlines() if line.startswith("data: ")]


def test_event_prefixes_every_line():
    assert event("a\nb", name="quotes") == "event: quotes\ndata: a\ndata: b\n\n"


def test_render_json_one_event_per_ticker(price_store, publish):
    publish({"AAPL": 190.0, "MSFT": 420.0})
    frame = render_json(price_store.snapshot())
    assert frame.count(b"\n\n") == 2
    events = parse_events(frame)
    assert [e["ticker"] for e in events] == ["AAPL", "MSFT"]
    assert set(events[0]) == {"ticker", "price", "prev_price", "open_price", "timestamp", "direction"}


async def next_frame(frames, timeout=3.0) -> bytes:
    return await asyncio.wait_for(anext(frames), timeout)


async def frame_with(frames, needle: bytes) -> bytes:
    """Skip frames (the retry hint, an earlier tick) until one carries `needle`."""
    while needle not in (frame := await next_frame(frames)):
        pass
    return frame


@pytest.mark.anyio
async def test_stream_sends_current_prices_then_each_tick(price_store, publish):
    publish({"AAPL": 190.0})
    hub = get_hub(price_store)
    frames = stream_frames(hub, "prices")
    try:
        first = await next_frame(frames)
        assert first.startswith(RETRY_FRAME)
        # The hub may not have read the store yet when the stream starts; then the tick comes next.
        events = parse_events(first) or parse_events(await frame_with(frames, b"data: "))
        assert events[0]["price"] == 190.0
        publish({"AAPL": 191.0})
        assert parse_events(await frame_with(frames, b"191.0"))[0]["price"] == 191.0
    finally:
        await frames.aclose()
    assert hub.clients == 0


@pytest.mark.anyio
async def test_many_clients_share_one_read(price_store, publish):
    publish({"AAPL": 190.0})
    hub = get_hub(price_store)
    streams = [stream_frames(hub, "prices") for _ in range(50)]
    try:
        await asyncio.gather(*(frame_with(s, b"190.0") for s in streams))
        publish({"AAPL": 192.0})
        frames = await asyncio.gather(*(frame_with(s, b"192.0") for s in streams))
        # Every client got the very same bytes object, rendered once by the hub.
        assert len({id(f) for f in frames}) == 1
        assert hub.clients == 50
    finally:
        for s in streams:
            await s.aclose()
    assert hub.clients == 0


@pytest.mark.anyio
async def test_keepalive_when_no_ticks(price_store, monkeypatch):
    monkeypatch.setattr(hub_module, "KEEPALIVE_SECONDS", 0.05)
    frames = stream_frames(get_hub(price_store), "prices")
    try:
        await next_frame(frames)
        assert await next_frame(frames) == KEEPALIVE_FRAME
    finally:
        await frames.aclose()


@pytest.mark.anyio
async def test_view_streams_over_asgi(async_client, price_store, publish, db):
    publish({"AAPL": 190.0})
    response = await async_client.get("/api/stream/prices")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    frames = aiter(response.streaming_content)
    try:
        first = await next_frame(frames)
        assert first.startswith(b"retry: ")
    finally:
        await frames.aclose()


@pytest.mark.anyio
async def test_a_removed_ticker_is_not_in_a_new_clients_first_frame(price_store, publish):
    publish({"AAPL": 190.0, "NFLX": 600.0})
    hub = get_hub(price_store)
    watching = stream_frames(hub, "prices")
    try:
        await frame_with(watching, b"NFLX")
        publish({"AAPL": 190.5}, keep={"AAPL"})  # NFLX left the watchlist: the worker's next tick drops it
        await frame_with(watching, b"190.5")
        late = stream_frames(hub, "prices")
        try:
            first = await next_frame(late)
            assert b"NFLX" not in first
            assert [e["ticker"] for e in parse_events(first)] == ["AAPL"]
        finally:
            await late.aclose()
    finally:
        await watching.aclose()


async def first_frame_of_a_new_stream(async_client, path: str) -> bytes:
    response = await async_client.get(path)
    frames = aiter(response.streaming_content)
    try:
        return await next_frame(frames)
    finally:
        await frames.aclose()


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_ticker_removed_before_the_next_tick_is_not_in_a_new_streams_first_frame(
    async_client, price_store, publish
):
    # Issue 19 item 6: DELETE, then connect before the worker's next tick; the hub's last tick still has NFLX.
    publish({"AAPL": 190.0, "NFLX": 600.0})
    hub = get_hub(price_store)
    watching = stream_frames(hub, "prices")
    try:
        await frame_with(watching, b"NFLX")  # the hub holds the tick with NFLX
        assert (await async_client.delete("/api/watchlist/NFLX")).status_code == 204
        first = await first_frame_of_a_new_stream(async_client, "/api/stream/prices")
        assert [e["ticker"] for e in parse_events(first)] == ["AAPL"]
        # The clients already streaming are not touched, and the hub's shared tick is not rewritten.
        assert b"NFLX" in hub.frame(hub.latest, "prices")
    finally:
        await watching.aclose()


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_a_held_ticker_off_the_watchlist_stays_in_the_first_frame(
    async_client, price_store, publish, monkeypatch
):
    from market import hooks

    monkeypatch.setattr(hooks, "ticker_providers", [lambda user_id=None: {"NFLX"}])  # a position holds NFLX
    publish({"AAPL": 190.0, "NFLX": 600.0})
    hub = get_hub(price_store)
    watching = stream_frames(hub, "prices")
    try:
        await frame_with(watching, b"NFLX")
        assert (await async_client.delete("/api/watchlist/NFLX")).status_code == 204
        first = await first_frame_of_a_new_stream(async_client, "/api/stream/prices")
        assert [e["ticker"] for e in parse_events(first)] == ["AAPL", "NFLX"]
    finally:
        await watching.aclose()


class CountingRenderers(dict):
    def __init__(self):
        self.calls = {"prices": 0, "html": 0}
        super().__init__(prices=self._counted("prices", render_json), html=self._counted("html", render_json))

    def _counted(self, name, render):
        def counted(tick):
            self.calls[name] += 1
            return render(tick)

        return counted


@pytest.mark.anyio
async def test_a_format_nobody_streams_is_not_rendered(price_store, publish):
    # Issue 19: the hub rendered both formats of every ticker each tick, streamed or not.
    renderers = CountingRenderers()
    hub = hub_module.PriceHub(price_store, renderers)
    publish({"AAPL": 190.0})
    json_stream = stream_frames(hub, "prices")
    try:
        await next_frame(json_stream)
        for price in (191.0, 192.0, 193.0):
            publish({"AAPL": price})
            await frame_with(json_stream, str(price).encode())
        assert renderers.calls["html"] == 0
        assert 3 <= renderers.calls["prices"] <= 5  # once per tick (the first tick may be read before the stream)
        html_stream = stream_frames(hub, "html")
        try:
            await next_frame(html_stream)  # the current tick, rendered on demand
            publish({"AAPL": 194.0})
            await frame_with(html_stream, b"194.0")
            await frame_with(json_stream, b"194.0")
            assert renderers.calls["html"] == 2
        finally:
            await html_stream.aclose()
        assert hub.streams == {"prices": 1, "html": 0}
        publish({"AAPL": 195.0})
        await frame_with(json_stream, b"195.0")
        assert renderers.calls["html"] == 2
    finally:
        await json_stream.aclose()
        hub.stop()


def _plain(tick):
    return b"plain\n\n"


def test_an_app_registers_its_stream_format_at_start_up(monkeypatch):
    from market import sse

    monkeypatch.setattr(sse, "RENDERERS", dict(sse.RENDERERS))
    monkeypatch.setattr(sse, "_hubs", {})
    sse.register_format("plain", _plain)
    sse.register_format("plain", _plain)  # the same again (a second ready()) changes nothing
    assert sse.RENDERERS["plain"] is _plain
    with pytest.raises(ValueError, match="'plain' is already registered"):
        sse.register_format("plain", render_json)
    with pytest.raises(ValueError, match="'prices' is already registered"):
        sse.register_format(sse.JSON_FORMAT, _plain)  # nobody replaces the API's own format
    assert sse.RENDERERS[sse.JSON_FORMAT] is render_json


def test_no_format_registers_once_a_hub_exists(monkeypatch, price_store):
    """The hub's reader thread iterates the formats every tick: a late one would race it."""
    from market import sse

    monkeypatch.setattr(sse, "RENDERERS", dict(sse.RENDERERS))
    monkeypatch.setattr(sse, "_hubs", {})
    hub = sse.get_hub(price_store)
    try:
        with pytest.raises(RuntimeError, match="'plain' registered after a price stream opened"):
            sse.register_format("plain", _plain)
        assert "plain" not in sse.RENDERERS
    finally:
        hub.stop()


@pytest.mark.anyio
async def test_an_unknown_format_is_refused_before_a_place_is_taken():
    """The route picks the format, not the client: an unknown one is the server's fault, said at once, instead
    of a 200 whose stream breaks at its first frame, with a place held and the database read for nothing."""
    from market import sse, stream_limit

    before = stream_limit.streams.open
    with pytest.raises(LookupError, match="no stream format 'nope'; registered: .*prices"):
        await sse.open_stream("nope")
    assert stream_limit.streams.open == before


@pytest.mark.anyio
async def test_a_users_change_reaches_that_users_streams_only(price_store, publish, monkeypatch):
    """Issue 21: what belongs to one user (a fill made elsewhere) is a `book` event on their streams, not others'."""
    from market import hooks

    versions = {"alice": 1, "bob": 1}
    asked = []

    def read_versions(users):
        asked.append(sorted(users))
        return {u: versions[u] for u in users if u in versions}

    monkeypatch.setattr(hooks, "user_versions", [read_versions])
    hub = hub_module.PriceHub(price_store, {"prices": render_json})
    publish({"AAPL": 190.0})
    alice, bob, anonymous = (stream_frames(hub, "prices", user="alice"), stream_frames(hub, "prices", user="bob"),
                             stream_frames(hub, "prices"))
    try:
        for stream in (alice, bob, anonymous):
            await next_frame(stream)
        publish({"AAPL": 191.0})
        for stream in (alice, bob, anonymous):
            frame = await frame_with(stream, b"191.0")
            assert b"event: book" not in frame  # a version first read is nothing to tell
        versions["alice"] = 2  # alice's book changed, in no tick's time: her stream is woken for it
        frame = await frame_with(alice, b"event: book")
        assert b"data: 2" in frame
        publish({"AAPL": 192.0})
        assert b"event: book" not in await frame_with(bob, b"192.0")
        assert b"event: book" not in await frame_with(anonymous, b"192.0")
        assert asked and all(users == ["alice", "bob"] for users in asked[-3:])
    finally:
        for stream in (alice, bob, anonymous):
            await stream.aclose()
        hub.stop()
    assert hub.users == {}


@pytest.mark.anyio
async def test_a_change_just_after_a_tick_is_told_without_waiting_for_the_next(price_store, publish, monkeypatch):
    """The worker's fills commit a few ms after its tick is published, after the hub looked for changes with that
    tick: the hub looks once more shortly after each tick. With no next tick for a minute, the book event still
    comes. (The follow-up is stretched to a second here, so the test acts well within it on a loaded machine.)"""
    from market import hooks

    versions = {"alice": 1}
    commits = [0]  # the database's change counter (core.fastpath.database_version): no change, no read
    monkeypatch.setattr(hooks, "user_versions", [lambda users: {u: versions[u] for u in users}])
    monkeypatch.setattr(hub_module, "database_version", lambda: commits[0])
    monkeypatch.setattr(hub_module, "WAIT_SECONDS", 60.0)
    monkeypatch.setattr(hub_module, "FOLLOW_UP_SECONDS", 1.0)
    hub = hub_module.PriceHub(price_store, {"prices": render_json})
    publish({"AAPL": 190.0})
    alice = stream_frames(hub, "prices", user="alice")
    try:
        await next_frame(alice)
        publish({"AAPL": 191.0})
        assert b"event: book" not in await frame_with(alice, b"191.0")
        versions["alice"] = 2  # the worker's fill for that tick, committed after the hub saw the tick
        commits[0] += 1
        assert b"data: 2" in await frame_with(alice, b"event: book")
    finally:
        await alice.aclose()
        hub.stop()


@pytest.mark.anyio
async def test_a_change_between_the_page_and_its_stream_is_told(price_store, publish, monkeypatch):
    from market import hooks

    monkeypatch.setattr(hooks, "user_versions", [lambda users: {u: 7 for u in users}])
    hub = hub_module.PriceHub(price_store, {"prices": render_json})
    publish({"AAPL": 190.0})
    page_was_at_6 = stream_frames(hub, "prices", user="alice", since=6)
    try:
        await next_frame(page_was_at_6)
        publish({"AAPL": 191.0})
        assert b"data: 7" in await frame_with(page_was_at_6, b"event: book")
    finally:
        await page_was_at_6.aclose()
        hub.stop()
