"""The fast path (core/fastpath.py). The ASGI handler: a request's sync code and Django's end-of-request clean-up
share one thread, which a request that runs no sync code never gets (core/fastpath.py)."""

import asyncio
import gc
import hashlib
import importlib
import inspect
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import django
import httpx
import pytest
from django.core import signals

from core.fastpath import ASGIHandler, ReadCache, RequestThread, sqlite_version

pytestmark = [pytest.mark.anyio, pytest.mark.urls("core.tests.fastpath_urls")]


@pytest.fixture
def finished_on():
    """The names of the threads request_finished's receivers ran on."""
    threads = []

    def record(**kwargs):
        threads.append(f"{threading.current_thread().name} {threading.get_ident()}")

    signals.request_finished.connect(record)
    yield threads
    signals.request_finished.disconnect(record)


async def call(
    path: str, *, disconnect_after: float | None = None, as_uvicorn: bool = False, handler: ASGIHandler | None = None,
    headers_out: list | None = None,
) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80),
    }
    sent = []
    requested = False
    complete = asyncio.Event()

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if as_uvicorn:  # uvicorn answers "disconnect" once the response is complete
            await complete.wait()
            return {"type": "http.disconnect"}
        if disconnect_after is None:
            await asyncio.Event().wait()  # the client stays until the response is complete
        await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            complete.set()

    await (handler or ASGIHandler())(scope, receive, send)
    if headers_out is not None:
        headers_out.extend((k.decode(), v.decode()) for k, v in sent[0]["headers"])
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


def here() -> str:
    return f"{threading.current_thread().name} {threading.get_ident()}"


async def test_an_async_view_runs_no_thread_and_is_cleaned_up_inline(finished_on):
    before = set(threading.enumerate())
    status, body = await call("/api/async")
    assert status == 200
    assert body.decode() == here()
    assert finished_on == [here()]
    assert set(threading.enumerate()) <= before


async def test_an_api_request_leaves_no_reference_cycles_behind():
    """A request's objects are freed when it ends, not by the garbage collector. With a cycle per request (the
    disconnect listener's RequestAborted re-raised in the handler's frame; request.htmx pointing back at the
    request) a collection under a stream of orders found ~45,000 objects and paused the event loop for 60-120 ms."""
    handler = ASGIHandler()  # one, as a server has: building one (its middleware) makes garbage of its own
    await call("/api/async", as_uvicorn=True, handler=handler)
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            assert (await call("/api/async", as_uvicorn=True, handler=handler))[0] == 200
        assert gc.collect() < 20  # before: about 70 objects per request
    finally:
        gc.enable()


async def test_a_sync_view_and_its_clean_up_share_its_request_thread(finished_on):
    status, body = await call("/api/sync")
    assert status == 200
    assert body.decode().startswith("request")
    # Django's close_old_connections must run where the view's connections are: on the same thread.
    assert finished_on == [body.decode()]


async def test_the_request_thread_ends_with_its_request(finished_on):
    before = set(threading.enumerate())
    await call("/api/sync")
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_nothing_runs_on_a_request_thread_after_its_request():
    # As a ThreadPoolExecutor refuses work after shutdown, whether or not the request ever used its thread.
    for used in (False, True):
        thread = RequestThread()
        if used:
            assert thread.submit(threading.get_ident).result(timeout=5) != threading.get_ident()
        thread.shutdown(wait=True)
        with pytest.raises(RuntimeError):
            thread.submit(threading.get_ident)
        assert thread.used is used


async def test_a_page_that_only_reads_runs_its_middleware_inline(finished_on):
    """Sessions, users and messages are lazy until a view uses them: a page that does not needs no thread."""
    before = set(threading.enumerate())
    status, body = await call("/page/async")
    assert status == 200
    assert body.decode() == here()
    assert finished_on == [here()]
    assert set(threading.enumerate()) <= before


@pytest.mark.django_db(transaction=True)
async def test_a_page_that_writes_its_session_and_messages_saves_them_on_its_thread(finished_on):
    """Saving a session is a database write: Django's own hook does it, on the request's thread (on the event loop
    the ORM would refuse), and the cookies go out."""
    from django.contrib.sessions.models import Session

    headers = []
    status, body = await call("/page/writes", headers_out=headers)
    assert status == 200, body
    cookies = " ".join(v for k, v in headers if k.lower() == "set-cookie")
    assert "sessionid=" in cookies and "messages=" in cookies
    assert await Session.objects.acount() == 1
    assert finished_on == [body.decode()]  # Django's clean-up on the thread that used the database


def test_the_csrf_token_in_the_session_is_refused(settings):
    """It would make the inline CSRF hooks load the session from the database on the event loop."""
    from django.core.exceptions import ImproperlyConfigured

    from core.fastpath import CsrfViewMiddleware

    settings.CSRF_USE_SESSIONS = True
    with pytest.raises(ImproperlyConfigured, match="CSRF_USE_SESSIONS"):
        CsrfViewMiddleware(lambda request: None)


async def test_a_stream_cut_by_the_client_still_finishes_the_request(finished_on):
    status, body = await call("/api/stream", disconnect_after=0.05)
    assert status == 200 and body.startswith(b"first")
    assert finished_on == [here()]


def test_the_web_server_serves_this_handler():
    from finally_site.asgi import application

    assert isinstance(application, ASGIHandler)


# --- the body limit at the edge ---------------------------------------------------------------------------------


LIMIT = 64 * 1024


async def post(path: str, chunks, *, content_length: int | None = None, content_type: bytes = b"application/json"):
    """POST `chunks` as the server would hand them over; returns (status, headers, body, bytes the app read)."""
    headers = [(b"host", b"localhost"), (b"content-type", content_type)]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80),
    }
    chunks = iter(chunks)
    read = 0
    sent = []
    pending = next(chunks, None)

    async def receive():
        nonlocal read, pending
        if pending is None:
            await asyncio.Event().wait()
        chunk, pending = pending, next(chunks, None)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(ASGIHandler()(scope, receive, send), timeout=10)
    start = sent[0]
    answered = {k.lower(): v for k, v in start["headers"]}
    return start["status"], answered, b"".join(m.get("body", b"") for m in sent[1:]), read


def forty_megabytes(size: int = 16 * 1024):
    """Bounded, so that a handler that reads it all (Django's spools it to disk) cannot fill the disk."""
    for _ in range(40 * 2**20 // size):
        yield b"x" * size


async def test_a_declared_body_over_the_limit_is_refused_before_any_of_it_is_read(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    status, headers, body, read = await post(
        "/api/size", forty_megabytes(), content_length=40 * 2**20, content_type=b"text/plain",
    )
    assert status == 413
    assert read == 0
    assert "at most 65,536 bytes" in json.loads(body)["error"]
    assert headers[b"connection"] == b"close"  # the server closes instead of reading the rest
    for header, value in [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                          (b"cross-origin-opener-policy", b"same-origin"), (b"x-frame-options", b"DENY")]:
        assert headers[header] == value
    assert b"default-src 'self'" in headers[b"content-security-policy"]


async def test_a_page_gets_the_refusal_as_text(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    status, headers, body, read = await post(
        "/", forty_megabytes(), content_length=LIMIT + 1, content_type=b"text/plain"
    )
    assert (status, read) == (413, 0)
    assert headers[b"content-type"].startswith(b"text/plain")
    assert b"at most 65,536 bytes" in body


async def test_a_chunked_body_is_cut_off_at_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    status, headers, body, read = await post("/api/size", forty_megabytes(), content_type=b"text/plain")
    assert status == 413
    assert LIMIT < read <= LIMIT + 16 * 1024  # not one chunk more than it took to pass the limit
    assert "at most 65,536 bytes" in json.loads(body)["error"]
    assert headers[b"connection"] == b"close"


async def test_a_body_up_to_the_limit_is_read_whole(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    for content_length in (None, LIMIT):  # chunked, and declared
        chunks = [b"x" * 1000] * 65 + [b"x" * 536]
        status, _, body, read = await post("/api/size", chunks, content_length=content_length)
        assert (status, body, read) == (200, str(LIMIT).encode(), LIMIT)


async def test_the_limit_is_djangos_setting(settings):
    """One number: the edge, request.body and the API's own 413 all read DATA_UPLOAD_MAX_MEMORY_SIZE."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    assert (await post("/api/size", [b"x" * 10_001], content_length=10_001))[0] == 413
    assert (await post("/api/size", [b"x" * 10_000], content_length=10_000))[0] == 200


# --- the body limit, over a real server ---------------------------------------------------------------------------


def exchange(port: int, head: bytes, body_parts, timeout: float = 5) -> bytes:
    """Send a request's head and then as much of its body as the server takes; return its whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed the connection without reading the rest: what is wanted
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass  # the unread body makes the close a reset; the answer had arrived before it
        return answer


def megabyte_in_pieces(*, chunked: bool):
    piece = b"x" * (64 * 1024)
    for _ in range(16):
        yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece


def server_files_in(pid: int, folder: Path) -> list[str]:
    """Files of the process in `folder`, open ones included (a spooled body is unlinked while open)."""
    opened = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            opened.append(os.readlink(fd))
        except OSError:
            pass
    return sorted({name for name in opened if name.startswith(str(folder))} | {str(p) for p in folder.iterdir()})


@pytest.mark.e2e
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_over_a_real_server_a_40_mb_post_is_refused_before_it_is_sent(stack_factory, tmp_path, chunked):
    """A page on any site can make a visitor's browser send this (a cross-site text/plain POST). Answered after the
    first megabyte, with nothing of it written to disk, and the server trades on."""
    spool = tmp_path / "spool"
    spool.mkdir()
    stack = stack_factory(TMPDIR=str(spool))
    stack.start_worker()
    stack.start_web()
    stack.wait_for_prices()
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % (40 * 2**20)
    head = (
        b"POST /api/portfolio/trade HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://elsewhere.example\r\n"
        b"Content-Type: text/plain\r\n%s\r\n\r\n" % framing
    )
    started = time.monotonic()
    answer = exchange(stack.port, head, megabyte_in_pieces(chunked=chunked))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert time.monotonic() - started < 5
    assert b"at most 65,536 bytes" in answer
    assert server_files_in(stack.processes["web"].pid, spool) == []

    # A body under the limit, framed the same way, still trades: the order's JSON padded to 60 KB.
    order = json.dumps({"ticker": "AAPL", "quantity": 1, "side": "buy"}).encode()
    order += b" " * (60 * 1024 - len(order))
    content = iter([order[:30_000], order[30_000:]]) if chunked else order
    response = httpx.post(stack.base_url + "/api/portfolio/trade", content=content,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.request.headers.get("Transfer-Encoding") == ("chunked" if chunked else None)
    assert stack.query("SELECT COUNT(*) FROM trades") == [(1,)]


# The Django code core/fastpath.py copies or overrides, as the installed Django 5.2 has it. When an upgrade changes
# one, this fails: read Django's new version beside ours, carry the change over (or drop ours if Django now does the
# same), then record the new digest here.
DJANGO_CODE_WE_FOLLOW = {
    # ASGIHandler.__call__, handle and read_body: copied, with the differences the module says.
    "django.core.handlers.asgi.ASGIHandler.__call__": "f756809e9c9308dc",
    "django.core.handlers.asgi.ASGIHandler.handle": "98faeb5bef800331",
    "django.core.handlers.asgi.ASGIHandler.read_body": "cf4aa904631d5410",
    # InlineHooks and PagesOnly override these two.
    "django.utils.deprecation.MiddlewareMixin.__call__": "337be048dd62e014",
    "django.utils.deprecation.MiddlewareMixin.__acall__": "adf8cbcaf9f11e45",
    # CsrfViewMiddleware.process_view is a coroutine so that this calls it inline rather than on a thread.
    "django.core.handlers.base.BaseHandler._get_response_async": "064b55bfd55fc38d",
    # Run inline because they do no I/O; process_response on a thread exactly when the flags read here say it writes.
    "django.contrib.sessions.middleware.SessionMiddleware.process_request": "6782d24847e4a926",
    "django.contrib.sessions.middleware.SessionMiddleware.process_response": "fbaf5503c20d7dd0",
    "django.contrib.auth.middleware.AuthenticationMiddleware.process_request": "6dd39b90ad6373e2",
    "django.contrib.messages.middleware.MessageMiddleware.process_request": "7f4834ba26ee0583",
    "django.contrib.messages.middleware.MessageMiddleware.process_response": "04469c9493c90e26",
    "django.contrib.messages.storage.base.BaseStorage.update": "3db9589128339b47",
    # Inline: they compare tokens from the cookie and the request only (CSRF_USE_SESSIONS is refused).
    "django.middleware.csrf.CsrfViewMiddleware.process_request": "9aec8dfd81c88a56",
    "django.middleware.csrf.CsrfViewMiddleware.process_view": "cdbdabe04318fc2f",
    "django.middleware.csrf.CsrfViewMiddleware.process_response": "9fe1054c0f64b37f",
}


@pytest.mark.parametrize("qualified_name", sorted(DJANGO_CODE_WE_FOLLOW))
def test_the_django_code_the_fast_path_copies_has_not_changed(qualified_name):
    module_name, class_name, function_name = qualified_name.rsplit(".", 2)
    target = getattr(getattr(importlib.import_module(module_name), class_name), function_name)
    digest = hashlib.sha256(inspect.getsource(target).encode()).hexdigest()[:16]
    assert digest == DJANGO_CODE_WE_FOLLOW[qualified_name], (
        f"Django {django.get_version()} changed {qualified_name}, which core/fastpath.py copies or overrides: "
        "compare the two, carry the change over, then record the new digest in this test."
    )


class TestReadCache:
    """An answer is sent again only while every version it was made at is unchanged."""

    @staticmethod
    def counting(body: bytes = b"{}", expires_at=None):
        calls = []

        def make():
            calls.append(1)
            return body, expires_at

        return make, calls

    def ask(self, cache, key, versions, make):
        return asyncio.run(cache.answer(key, versions, make))

    def test_same_versions_same_answer_without_making_it_again(self):
        cache = ReadCache()
        make, calls = self.counting(b'{"cash":1}')
        for _ in range(3):
            response = self.ask(cache, ("k",), (1, 7), make)
        assert calls == [1]
        assert response.content == b'{"cash":1}' and response["Content-Type"] == "application/json; charset=utf-8"

    @pytest.mark.parametrize("later", [(2, 7), (1, 8)])
    def test_any_version_changed_makes_it_again(self, later):
        cache = ReadCache()
        make, calls = self.counting()
        self.ask(cache, ("k",), (1, 7), make)
        self.ask(cache, ("k",), later, make)
        assert len(calls) == 2

    def test_an_unknown_version_is_never_cached(self):
        cache = ReadCache()
        make, calls = self.counting()
        for _ in range(3):
            self.ask(cache, ("k",), (None, 7), make)
        assert len(calls) == 3

    def test_an_answer_that_expires_by_time_is_made_again(self):
        cache = ReadCache()
        make, calls = self.counting(expires_at=time.time() - 1)
        self.ask(cache, ("k",), (1,), make)
        self.ask(cache, ("k",), (1,), make)
        assert len(calls) == 2

    def test_keys_are_apart_and_bounded(self):
        cache = ReadCache(max_entries=2)
        make, calls = self.counting()
        for key in ("a", "b", "c", "a"):
            self.ask(cache, (key,), (1,), make)
        assert len(calls) == 4  # "a" was the oldest when "c" came, so it was let go

    def test_the_database_version_moves_with_every_commit_of_another_connection(self, tmp_path):
        import sqlite3

        path = tmp_path / "x.db"
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE t (x)")
        before = sqlite_version(str(path))
        writer.execute("BEGIN")
        writer.execute("INSERT INTO t VALUES (1)")
        assert sqlite_version(str(path)) == before  # not committed yet: nothing to see
        writer.execute("COMMIT")
        assert sqlite_version(str(path)) != before
        writer.close()

    def test_every_thread_reads_the_same_counter(self, tmp_path):
        """The counter is kept per connection: a thread with a connection of its own would start where the cached
        answer's was before a trade, and be served the old book."""
        import sqlite3

        path = tmp_path / "x.db"
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE t (x)")
        cached_at = sqlite_version(str(path))
        writer.execute("INSERT INTO t VALUES (1)")
        seen = []
        thread = threading.Thread(target=lambda: seen.append(sqlite_version(str(path))))
        thread.start()
        thread.join()
        assert seen[0] != cached_at
        assert sqlite_version(str(path)) == seen[0]
        writer.close()

    def test_no_version_for_a_file_that_is_not_there(self, tmp_path):
        assert sqlite_version(str(tmp_path / "missing.db")) is None


def _book(base_url: str) -> tuple[float, dict]:
    body = httpx.get(base_url + "/api/portfolio", timeout=10).json()
    return body["cash_balance"], {p["ticker"]: p["quantity"] for p in body["positions"]}


HTMX = {"HX-Request": "true"}


def _panels(base_url: str) -> tuple[float, dict, int]:
    """The book as the page's panels show it after a trade: the header's cash, the positions' quantities, the
    blotter's rows."""
    summary = httpx.get(base_url + "/panels/summary", headers=HTMX, timeout=10).text
    positions = httpx.get(base_url + "/panels/positions", headers=HTMX, timeout=10).text
    blotter = httpx.get(base_url + "/panels/blotter", headers=HTMX, timeout=10).text
    cash = float(re.search(r'data-cash="([^"]+)"', summary).group(1))
    held = {t: float(q) for t, q in re.findall(r'data-position="([^"]+)" data-qty="([^"]+)"', positions)}
    return cash, held, blotter.count("<tr data-trade ")


@pytest.mark.e2e
def test_two_web_processes_on_sqlite_never_read_an_old_book_after_a_trade(stack_factory):
    """Reads and the panels a trade refreshes are cached per process; a trade on either process shows at once on
    both (the SQLite counters)."""
    from conftest import free_port

    stack = stack_factory()
    stack.start_worker()
    stack.start_web()
    port2 = free_port()
    stack.start_web("web2", port2)
    stack.wait_for_prices()
    webs = [stack.base_url, f"http://127.0.0.1:{port2}"]
    for web in webs:  # warm both caches
        for _ in range(3):
            _book(web)
            httpx.get(web + "/api/portfolio/history", timeout=10)
            httpx.get(web + "/api/chat/history", timeout=10)
            _panels(web)
    for n in range(12):
        trading, other = webs[n % 2], webs[(n + 1) % 2]
        side = "buy" if n % 3 != 2 else "sell"
        fill = httpx.post(trading + "/api/portfolio/trade", json={"ticker": "AAPL", "side": side, "quantity": 1},
                          timeout=10)
        assert fill.status_code == 201, fill.text
        cash, held = fill.json()["cash_balance"], stack.query("SELECT quantity FROM positions WHERE ticker='AAPL'")
        for web in (other, trading):
            assert _book(web) == (cash, {"AAPL": float(held[0][0])}), (n, web)
            assert _panels(web) == (cash, {"AAPL": float(held[0][0])}, n + 1), (n, web)
    reply = httpx.post(webs[0] + "/api/chat", json={"message": "hello"}, timeout=30)
    assert reply.status_code == 200, reply.text
    for web in webs:
        assert httpx.get(web + "/api/chat/history", timeout=10).json()[-1]["content"] == reply.json()["message"]


@pytest.mark.e2e
def test_a_cached_watchlist_turns_stale_when_its_quotes_do(stack_factory):
    """Nothing is written when the worker stops, so the versions stay the same: the cached watchlist must expire
    when its first priced quote goes stale by time alone (market.quotes.stale_after: 5 s at the simulator's
    interval), not be served as "priced" for ever."""
    stack = stack_factory()
    stack.start_worker()
    stack.start_web()
    stack.wait_for_prices()
    stack.stop("worker")
    watchlist = httpx.get(stack.base_url + "/api/watchlist", timeout=10).json()
    assert {w["status"] for w in watchlist} == {"priced"}
    stopped = time.time()
    while time.time() - stopped < 10:
        statuses = {w["status"] for w in httpx.get(stack.base_url + "/api/watchlist", timeout=10).json()}
        if statuses == {"stale"}:
            break
        time.sleep(0.2)
    assert statuses == {"stale"}
    assert time.time() - stopped <= 5.0 + 1.0  # within the rule's 5 s of the last tick (plus polling)
