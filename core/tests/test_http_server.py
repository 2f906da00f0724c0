"""The web server's limit on a request's head (core/http_server.py), over `manage.py serve` as `make run` starts it."""

import socket
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e

LIMIT = 8192


@pytest.fixture
def server(stack_factory):
    stack = stack_factory(MAX_REQUEST_HEADER_BYTES=str(LIMIT))
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
