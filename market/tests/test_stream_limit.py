"""At most MAX_STREAMS_PER_PROCESS open price streams per web process (market/stream_limit.py)."""

import asyncio
import gc
import json
import resource
import socket
import sys
import time

import httpx
import pytest
from django.db.backends.utils import CursorWrapper

from market.sse import get_hub, sse_response, stream_frames
from market.stream_limit import streams


def open_stream(port: int, path: str) -> tuple[socket.socket, int, dict[str, str], bytes]:
    """A stream's connection (left open), its status, headers and the body read so far."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:])}
    return sock, int(lines[0].split()[1]), headers, body


@pytest.mark.e2e
def test_past_the_cap_a_stream_gets_503_until_one_closes(stack_factory):
    stack = stack_factory(MAX_STREAMS_PER_PROCESS="2")
    stack.start_web()
    api, page = "/api/stream/prices", "/stream/prices"
    first, status, headers, _ = open_stream(stack.port, api)
    assert (status, headers["content-type"]) == (200, "text/event-stream")
    second, status, _, _ = open_stream(stack.port, page)  # both formats count against the one cap
    assert status == 200
    for path in (api, page):
        refused, status, headers, body = open_stream(stack.port, path)
        assert status == 503
        assert int(headers["retry-after"]) > 0
        assert headers["content-type"] == "application/json"
        assert len(body) < int(headers["content-length"]) or "error" in json.loads(body)
        refused.close()

    first.close()  # the client goes away: its place is given back
    deadline = time.monotonic() + 5
    while True:
        third, status, _, _ = open_stream(stack.port, api)
        if status == 200 or time.monotonic() > deadline:
            break
        third.close()
        time.sleep(0.05)
    assert status == 200
    assert open_stream(stack.port, page)[1] == 503  # and the cap holds again
    second.close()
    third.close()


@pytest.mark.anyio
async def test_a_stream_that_never_started_gives_its_place_back(settings, price_store):
    """A client that leaves before the first byte: Django drops the response without running its generator."""
    settings.MAX_STREAMS_PER_PROCESS = 1
    before = streams.open
    response = sse_response(stream_frames(get_hub(price_store), "prices"))
    assert response.status_code == 200 and streams.open == before + 1
    assert sse_response(stream_frames(get_hub(price_store), "prices")).status_code == 503
    del response
    gc.collect()  # not needed on CPython (freed at once), but other interpreters collect later
    assert streams.open == before


@pytest.mark.anyio
async def test_a_stream_gives_its_place_back_when_its_client_leaves(settings, price_store):
    """As Django's handler does when the client disconnects: it cancels the task sending the stream."""
    settings.MAX_STREAMS_PER_PROCESS = 1
    before = streams.open
    response = sse_response(stream_frames(get_hub(price_store), "prices"))
    first = asyncio.Event()

    async def send_all():
        async for _ in response:
            first.set()

    sending = asyncio.create_task(send_all())
    await asyncio.wait_for(first.wait(), 5)
    assert streams.open == before + 1
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert streams.open == before  # at once, while the response is still referenced
    assert sse_response(stream_frames(get_hub(price_store), "prices")).status_code == 200


@pytest.mark.e2e
def test_the_cap_fits_the_open_file_limit_and_other_requests_are_still_served(stack_factory):
    """With the default cap above the process's open-file limit, the 503 never fired: accept() failed first, and
    with it every other request (measured with `ulimit -n 300`: 275 streams, no 503, /api/health disconnected)."""
    stack = stack_factory()  # MAX_STREAMS_PER_PROCESS at its default, far above what 300 files allow

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))

    stack.processes["web"] = stack._spawn(
        "web", [sys.executable, "manage.py", "serve", "--port", str(stack.port)], preexec_fn=low_limit,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(stack.base_url + "/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, stack.log("web")
            time.sleep(0.1)

    held = []
    try:
        for _ in range(300):
            sock, status, _, _ = open_stream(stack.port, "/api/stream/prices")
            held.append(sock)
            if status == 503:
                break
            assert status == 200
        assert status == 503, f"no 503 after {len(held)} streams"
        assert 1 < len(held) - 1 < 300 - 16  # the cap, with files left for the rest
        for _ in range(3):  # streams at the cap, and other requests are answered
            assert httpx.get(stack.base_url + "/api/health", timeout=5).status_code == 200
            assert httpx.get(stack.base_url + "/api/portfolio", timeout=5).status_code == 200
        assert "price streams" in stack.log("web")  # the one line saying the cap was clamped
    finally:
        for sock in held:
            sock.close()


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/stream/prices", "/stream/prices"])
async def test_a_stream_past_the_cap_is_refused_before_any_database_work(
    async_client, settings, price_store, monkeypatch, path
):
    """A reconnect storm against a full process: each refused stream used to read the priced tickers first."""
    settings.MAX_STREAMS_PER_PROCESS = streams.open + 1
    holding = sse_response(stream_frames(get_hub(price_store), "prices"))  # the last place
    assert holding.status_code == 200
    queries = []
    execute = CursorWrapper.execute

    def record(cursor, sql, params=None):  # on any thread: the view's database work runs on a request thread
        queries.append(sql)
        return execute(cursor, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", record)
    response = await async_client.get(path)
    assert response.status_code == 503
    assert queries == []
    del holding


@pytest.mark.anyio
async def test_a_place_taken_before_the_first_frames_read_is_given_back_if_the_client_leaves(monkeypatch):
    """The place is taken before the priced tickers are read; a client that leaves during that read (Django
    cancels the view) must not keep it."""
    from market import sse

    reading = asyncio.Event()

    async def slow_read():
        reading.set()
        await asyncio.sleep(60)

    monkeypatch.setattr(sse, "priced_now", slow_read)
    before = streams.open
    opening = asyncio.create_task(sse.open_stream(sse.JSON_FORMAT))
    await asyncio.wait_for(reading.wait(), 5)
    assert streams.open == before + 1
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    assert streams.open == before
