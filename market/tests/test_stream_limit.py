"""At most MAX_STREAMS_PER_PROCESS open price streams per web process (market/stream_limit.py)."""

import asyncio
import gc
import json
import socket
import time

import pytest

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
