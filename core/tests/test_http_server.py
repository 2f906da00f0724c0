"""The web server's limits on a request's head, trailers and time (core/http_server.py), over `manage.py serve` as
`make run` starts it."""

import socket
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e

LIMIT = 8192
HEAD_TIMEOUT = 2


@pytest.fixture
def server(stack_factory):
    stack = stack_factory(MAX_REQUEST_HEADER_BYTES=str(LIMIT), REQUEST_HEAD_TIMEOUT_SECONDS=str(HEAD_TIMEOUT))
    stack.processes["web"] = stack._spawn("web", [sys.executable, "manage.py", "serve", "--port", str(stack.port)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(stack.base_url + "/api/health", timeout=1).status_code == 200:
                return stack
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"manage.py serve did not start:\n{stack.log('web')}")


def send(port: int, request: bytes, piece: int | None = None) -> bytes:
    """The server's whole answer to `request`, sent at once or `piece` bytes at a time."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for start in range(0, len(request), piece or len(request)):
                sock.sendall(request[start:start + (piece or len(request))])
                if piece:
                    time.sleep(0.001)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


def head(size: int, *, method: bytes = b"GET", path: bytes = b"/api/health", extra: bytes = b"") -> bytes:
    """A request whose line and headers (up to the blank line that ends them) are exactly `size` bytes."""
    start = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s" % (method, path, extra)
    filler = size - len(start) - len(b"Cookie: \r\n\r\n")
    return start + b"Cookie: " + b"a" * filler + b"\r\n\r\n"


def test_a_head_over_the_limit_is_refused_and_the_server_serves_on(server):
    assert len(head(LIMIT + 1)) == LIMIT + 1
    for piece in (None, 100):  # at once, and trickled in small reads
        answer = send(server.port, head(LIMIT + 1), piece)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    answer = send(server.port, head(1024 * 1024))  # a megabyte of headers, as uvicorn alone would take
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert send(server.port, head(LIMIT)).startswith(b"HTTP/1.1 200 ")
    assert httpx.get(server.base_url + "/api/health").status_code == 200


def test_only_the_head_counts_not_the_body(server):
    """A body longer than the head's limit, sent in the same write as the head, is a body: the watchlist add works."""
    body = b'{"ticker": "PYPL"}' + b" " * (4 * LIMIT)
    request = head(
        LIMIT // 2, method=b"POST", path=b"/api/watchlist",
        extra=b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body),
    ) + body
    answer = send(server.port, request)
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
    assert "PYPL" in {quote["ticker"] for quote in httpx.get(server.base_url + "/api/watchlist").json()}


def test_keep_alive_requests_each_get_the_whole_limit(server):
    with httpx.Client(base_url=server.base_url) as client:
        for _ in range(3):
            response = client.get("/api/health", headers={"Cookie": "a=" + "b" * (LIMIT - 500)})
            assert response.status_code == 200
        assert client.get("/api/health", headers={"Cookie": "a=" + "b" * LIMIT}).status_code == 431


def watchlist(server) -> set[str]:
    return {quote["ticker"] for quote in httpx.get(server.base_url + "/api/watchlist").json()}


def chunked_post(
    path: bytes, body: bytes, *, trailers: bytes = b"", content_type: bool = True, chunk: int = 0
) -> bytes:
    """A POST whose body is sent chunked (in `chunk`-byte chunks, else one), ended by `trailers`."""
    chunk = chunk or len(body)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + chunk]), body[i:i + chunk]) for i in range(0, len(body), chunk))
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n%s\r\n"
        % (path, b"Content-Type: application/json\r\n" if content_type else b"")
        + chunks + b"0\r\n" + trailers + b"\r\n"
    )


def test_an_ordinary_chunked_body_is_served(server):
    body = b'{"ticker": "PYPL"}'
    for chunk in (0, 1):  # one chunk, and a chunk per byte
        answer = send(server.port, chunked_post(b"/api/watchlist", body, chunk=chunk))
        assert answer.split(b"\r\n")[0] in (b"HTTP/1.1 201 Created", b"HTTP/1.1 409 Conflict"), answer[:300]
    assert "PYPL" in watchlist(server)


def test_trailers_are_refused_and_the_request_is_not_served(server):
    """uvicorn appends a chunked body's trailers to the request's headers: a `Content-Type` trailer passed the API's
    JSON-only guard, and nothing counted their size. The app takes no trailers: 400, and nothing done."""
    cases = [
        chunked_post(b"/api/watchlist", b'{"ticker": "PYPL"}', trailers=b"X-T: a\r\n"),
        chunked_post(b"/api/watchlist", b'{"ticker": "SHOP"}', trailers=b"Content-Type: application/json\r\n",
                     content_type=False),
    ]
    for request in cases:
        answer = send(server.port, request)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
        assert b"Trailers are not accepted." in answer
    assert not {"PYPL", "SHOP"} & watchlist(server)
    assert httpx.get(server.base_url + "/api/health").status_code == 200


def peak_memory(pid: int) -> int:
    """The process's peak resident memory in bytes (Linux)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("shape", ["many trailers", "one huge trailer"])
def test_megabytes_of_trailers_are_cut_off_without_the_server_holding_them(server, shape):
    """Measured before the limit: 200 MB of trailer lines all taken, the process grown from 101 to 520 MB. httptools
    buffers a header's value whole before handing it over, so one huge value is cut off by the byte count alone."""
    pid = server.processes["web"].pid
    before = peak_memory(pid)
    start = chunked_post(b"/api/watchlist", b'{"ticker": "PYPL"}')[:-2]  # up to the trailers
    if shape == "many trailers":
        block = (b"X-T: " + b"a" * 1000 + b"\r\n") * 1000
    else:
        start += b"X-T: "
        block = b"a" * 1_000_000
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            sock.sendall(start)
            for _ in range(30):  # 30 MB
                sock.sendall(block)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # the server closed with our bytes unread: its 4xx may be lost to the reset
    assert not answer.startswith(b"HTTP/1.1 2"), answer[:300]
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 413 ")), answer[:300]
    grown = peak_memory(pid) - before
    assert grown < 10 * 1024 * 1024, f"the server grew by {grown / 2**20:.0f} MB"
    assert "PYPL" not in watchlist(server)


def test_a_head_not_sent_in_time_gets_408_and_the_connection_is_closed(server):
    """Slowloris: a client that sends part of a head and waits held its connection (and 31 KB) forever."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEAD_TIMEOUT + 10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: " + b"a" * 1000)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert HEAD_TIMEOUT - 0.5 < took < HEAD_TIMEOUT + 5
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEAD_TIMEOUT + 10) as sock:
        started = time.monotonic()
        assert sock.recv(100) == b""  # a connection that sends nothing is closed, unanswered
        assert time.monotonic() - started < HEAD_TIMEOUT + 5
    assert httpx.get(server.base_url + "/api/health").status_code == 200


def test_a_slow_response_on_a_kept_alive_connection_is_not_cut_by_the_head_deadline(server):
    """The deadline runs while a head is awaited, not while a request is answered."""
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/api/health").status_code == 200
        time.sleep(HEAD_TIMEOUT + 0.5)  # idle past the head deadline, within uvicorn's keep-alive (5 s)
        assert client.get("/api/health").status_code == 200


def first_line(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
        return answer.split(b"\r\n")[0]


def test_a_websocket_upgrade_is_plain_http_and_gets_the_host_check(server):
    """With uvicorn's websockets protocol, an upgrade to any path reached Django as a "websocket" scope: a 500,
    before the Host check ran. The app serves no WebSocket: the request is plain HTTP."""
    upgrade = (
        b"GET /api/health HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert first_line(server.port, upgrade % b"evil.example") == b"HTTP/1.1 400 Bad Request"
    assert first_line(server.port, upgrade % b"127.0.0.1") == b"HTTP/1.1 200 OK"
    assert "Traceback" not in server.log("web")
