"""The fast path: every place this project steps around Django's own machinery for speed, and nothing else.

docs/fastpath.md says, for each part, what it skips, why that is safe, what it was measured to save and when to
delete it. In short:

1. ASGIHandler: Django 5.2's handler, without the thread hops of a request that runs no sync code, and with
   the body limit enforced before the body is read.
2. InlineHooks and its subclasses: Django's own middleware, whose hooks only compute, run inline on the event
   loop instead of one thread hop each. PagesOnly: sessions, users, messages and htmx skip the JSON API (sessions
   and users serve it too when ACCOUNTS=on).
3. tune_gc(): the garbage collector's thresholds for a process holding hundreds of long-lived streams.
4. ReadCache (`reads`): the API's reads answer again with the bytes they last sent while SQLite's change counters
   say neither the database nor the price store has been written since.

Every check Django makes still runs (Host, security headers, CSRF for pages, the API's JSON-only guard) on every
request that gets past the body limit (a body over it is refused with a 413 before anything else): the code here
changes where Django's hooks run, never whether. What copies Django's code is held to the installed
Django by core/tests/test_fastpath.py, which fails when Django's copy changes.

The handler, in detail (Django's, without the thread hops a request that runs no sync code does not need):

Django gives every ASGI request a thread of its own for its sync code (asgiref's ThreadSensitiveContext),
and hops onto it even when the request has no sync code at all: once to send `request_started`, once to
close the response (which sends `request_finished`), then a third thread joins the first. For an async
view such as a market order that was about 60 % of the web process's CPU per order (bench/README.md).

Here a request still gets its thread on the first sync call, exactly as before (sync views, sync middleware
hooks, `sync_to_async` in a view). What changes is where the two signals' receivers run:

- a request that used its thread sends `request_finished` there, as Django does, so that Django's receivers
  close the connections its sync code opened on that thread;
- a request that never used one sends both signals inline on the event loop. Django's receivers act on the
  state of the thread they run on (`close_old_connections`, `reset_queries`), or on context-local state
  (`close_caches`, `reset_urlconf`): a thread the request never had left nothing to clean up, and the event
  loop's thread holds no database connection (Django refuses ORM calls there).
- `request_started` is always sent inline: the request's thread, when it comes, is new, so Django's receivers
  would find nothing on it either.

Only sync receivers are supported on these two signals (Django's and ours are): an async one makes
`Signal.send` fail loudly on the event loop instead of being skipped. A receiver must not block: it now runs on
the event loop for most API requests.

Django reads the whole body before any check runs (Host, CSRF, the API's JSON-only guard and its 413 all come
later), spooling it to a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE: any page a user visits could make the
server write a 40 MB cross-site text/plain POST to disk. Here a body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused
with a 413 before it is read: at once when its Content-Length says so, and as soon as a chunked body passes it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import io
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.core import signals
from django.core.exceptions import ImproperlyConfigured, RequestAborted
from django.core.handlers import asgi
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.middleware import clickjacking, common, csrf, security
from django.urls import set_script_prefix
from django_htmx import middleware as htmx
from ninja.responses import NinjaJSONEncoder
from pydantic import TypeAdapter

from core.compression import NonStreamingGZipMiddleware
from core.csp import ContentSecurityPolicyMiddleware
from core.db import read

API_PREFIX = "/api/"


class BodyTooLarge(Exception):
    """A body without a Content-Length (chunked) passed the limit while it was being read."""


def declared_length(scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server refuses a malformed one before the app sees it
    return 0


class RequestThread(Executor):
    """The one thread for a request's sync code, started on first use (as asgiref's own), which says if it was.

    Its pool is made on first use too: most API requests never use it, and a ThreadPoolExecutor (a queue, a
    semaphore, locks) made and shut down for each of them was work for nothing. Only the event loop submits.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._shut_down = False

    @property
    def used(self) -> bool:
        return self._pool is not None

    def submit(self, fn, /, *args, **kwargs):
        if self._shut_down:  # as a ThreadPoolExecutor would say: the request is over
            raise RuntimeError("cannot schedule new futures after shutdown")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False) -> None:
        self._shut_down = True
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class ASGIHandler(asgi.ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send, thread)
        finally:
            # Without waiting: the worker thread may itself be waiting for this event loop. It ends on its own
            # once its last call returned, which the request has already awaited.
            thread.shutdown(wait=False)

    async def handle(self, scope, receive, send, thread: RequestThread | None = None):
        """Django 5.2's ASGIHandler.handle; the body limit, the signals and closing the response differ (module
        docstring)."""
        thread = thread or RequestThread()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and declared_length(scope) > limit:
            await self.refuse_body(scope, send, limit)
            return
        try:
            body_file = await self.read_body(receive, limit)
        except RequestAborted:
            return
        except BodyTooLarge:
            await self.refuse_body(scope, send, limit)
            return
        set_script_prefix(asgi.get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await self._close(error_response, thread)
            return

        async def process_request(request, send):
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client disconnected while we were sending
            return response

        # Watch for a disconnect while the response is made (Django cancels the response task, e.g. a stream).
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                # exception(), where Django calls result() and catches: re-raised here, the listener's RequestAborted
                # (every request ends with one: the server says "disconnect" once the response is sent) would take
                # this frame, which holds `tasks`, into its traceback. That reference cycle kept every request's
                # objects for the garbage collector, whose collections then paused the event loop (bench/README.md).
                error = task.exception()
                if error is None or isinstance(error, RequestAborted):
                    continue
                if isinstance(error, AssertionError):
                    body_file.close()
                raise error
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            if thread.used:
                await signals.request_finished.asend(sender=self.__class__)
            else:
                signals.request_finished.send(sender=self.__class__)
        else:
            await self._close(response, thread)
        body_file.close()

    async def read_body(self, receive, limit: int | None = None):
        """Django's read_body, which stops with BodyTooLarge as soon as the body passes `limit` bytes."""
        body_file = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            if "body" in message:
                size += len(message["body"])
                if limit is not None and size > limit:
                    body_file.close()
                    raise BodyTooLarge()
                body_file.write(message["body"])
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    async def refuse_body(self, scope, send, limit: int) -> None:
        """413, and the connection closed after it: the rest of the body is never read."""
        message = f"The request body is too large: this server accepts at most {limit:,} bytes."
        request, _ = self.create_request(scope, io.BytesIO())
        if request is not None and request.path_info.startswith(API_PREFIX):
            response = JsonResponse({"error": message}, status=413)
        else:
            response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        response["Connection"] = "close"
        if request is not None:
            # The security headers of every other response, added by the same middleware (settings.MIDDLEWARE).
            def answer(request):
                return response

            for middleware in (security.SecurityMiddleware, clickjacking.XFrameOptionsMiddleware):
                response = middleware(answer).process_response(request, response)
            response = ContentSecurityPolicyMiddleware(answer)(request)
        await self.send_response(response, send)

    @staticmethod
    async def _close(response, thread: RequestThread) -> None:
        """Close the response (this sends request_finished) where the request's sync code ran, if it ran any."""
        if thread.used:
            await sync_to_async(response.close)()
        else:
            response.close()


# --- Middleware hooks inline --------------------------------------------------------------------------------


class InlineHooks:
    """Run a Django middleware's own hooks on the event loop instead of hopping to a thread for each.

    Under ASGI, MiddlewareMixin runs every process_request / process_view / process_response through
    sync_to_async, since in general a hook may block (a session saved to the database). The hooks of the
    middleware below only compute on the request and the response: header checks, Host validation, the CSRF
    token comparison, a lazy session or user. Running them inline is safe and saves a thread hop each
    (bench/README.md). The checks are Django's own code, unchanged, on every path: nothing is skipped.

    A middleware whose process_response may write (a session saved, messages stored) says when, in
    `response_needs_thread`; then that hook runs on the request's thread exactly as Django runs it.
    """

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    def __init__(self, get_response):
        # With the token in the session, these hooks would load the session from the database on the event loop.
        if settings.CSRF_USE_SESSIONS:
            raise ImproperlyConfigured("CSRF_USE_SESSIONS must be False: core.fastpath runs the CSRF hooks inline.")
        super().__init__(get_response)

    async def process_view(self, request, callback, callback_args, callback_kwargs):
        # A coroutine, so the handler calls it inline too (it wraps a sync process_view in sync_to_async).
        return super().process_view(request, callback, callback_args, callback_kwargs)


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


class GZipMiddleware(InlineHooks, NonStreamingGZipMiddleware):
    """Compressing a response is computation only; the page (about 40 KB) takes well under a millisecond."""


class PagesOnly:
    """Leave the JSON API out of a middleware that only pages use: sessions, users, flash messages, htmx.

    Without accounts the API has no login, no session and no messages: their hooks would cost it work for nothing.
    With ACCOUNTS=on an API call may be signed in by its session, so sessions and users serve it too
    (`with_accounts`). Never used for Host validation, security headers or CSRF.
    """

    with_accounts = False  # True: the API needs this middleware when ACCOUNTS=on

    def _skips(self, request) -> bool:
        return request.path_info.startswith(API_PREFIX) and not (self.with_accounts and settings.ACCOUNTS)

    def __call__(self, request):
        if self._skips(request):
            return self.get_response(request)
        return super().__call__(request)

    async def __acall__(self, request):
        if self._skips(request):
            return await self.get_response(request)
        return await super().__acall__(request)


class SessionMiddleware(PagesOnly, InlineHooks, sessions.SessionMiddleware):
    """process_request makes a lazy SessionStore (no query); process_response only reads flags and sets headers
    unless it saves the session, which is a database write: that one runs on the request's thread."""

    with_accounts = True

    def response_needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class AuthenticationMiddleware(PagesOnly, InlineHooks, auth.AuthenticationMiddleware):
    """process_request only sets a lazy `request.user` (the query runs if a view asks for the user, on its
    thread)."""

    with_accounts = True


class MessageMiddleware(PagesOnly, InlineHooks, messages.MessageMiddleware):
    """process_request makes a lazy storage; process_response stores messages (in a cookie or the session) only
    when a view read or added some: then it runs on the request's thread."""

    def response_needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class HtmxMiddleware(PagesOnly, htmx.HtmxMiddleware):
    """`request.htmx` refers back to the request: a reference cycle, so every request it touched was freed only by
    the garbage collector. Under a stream of orders that made each collection find ~45,000 objects and pause the
    event loop for 60-120 ms, every order in flight with it: the 8-client p99 (bench/README.md). No API view
    asks whether it was htmx."""


# --- The garbage collector --------------------------------------------------------------------------------


def tune_gc() -> None:
    """A web process holds hundreds of long-lived price streams. With CPython's default thresholds, the
    short-lived objects of each tick's fan-out were promoted to the oldest generation, and its full
    collections (over every stream's objects) paused the event loop for up to 160 ms, delaying a whole
    tick for every client (bench/README.md). Collect young objects less often so they die uncollected,
    and keep everything loaded at start-up out of the collector's walks.
    """
    gc.set_threshold(50_000, 20, 20)
    gc.freeze()


# --- Reads that nothing has changed since ----------------------------------------------------------------


class DataVersion:
    """SQLite's change counter for one database file, read on a connection of our own.

    `PRAGMA data_version` changes whenever ANOTHER connection commits to the file, in this process or any other
    (the writer thread, a second web process, the price worker), and costs a few microseconds: no query, no I/O
    beyond the shared-memory index of the write-ahead log. Our connection only ever reads it, so every commit is
    another connection's.

    ONE connection per process, behind a lock: the counter is kept per connection, so two connections' values
    cannot be compared (a fresh connection starts where an old one may have been before a trade), and the cache
    they guard is shared by every thread. Made again in a forked child, which must not share its parent's.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __call__(self) -> int:
        with self._lock:
            if self._conn is None or self._pid != os.getpid():
                self._conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
                self._pid = os.getpid()
            return self._conn.execute("PRAGMA data_version").fetchone()[0]


@functools.cache
def _data_version_of(path: str) -> DataVersion:
    return DataVersion(path)


def sqlite_version(path: str) -> int | None:
    """The change counter of the SQLite file at `path`; None when it cannot be read (then nothing is cached)."""
    try:
        return _data_version_of(path)()
    except sqlite3.Error:
        return None


def database_version() -> int | None:
    """The default database's change counter, or None where there is none this cheap (PostgreSQL; the in-memory
    database of the unit tests, whose writes sit in a test's transaction no other connection sees)."""
    # The configured settings, not connections["default"]: that makes a connection object for each new thread or
    # request context, which cost more than the rest of a cached read.
    settings_dict = connections.settings["default"]
    if settings_dict["ENGINE"] != "django.db.backends.sqlite3":
        return None
    name = str(settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return None
    return sqlite_version(name)


@functools.cache
def _adapter(schema) -> TypeAdapter:
    return TypeAdapter(schema)


def json_body(schema, value) -> bytes:
    """`value` as django-ninja answers it under the response schema `schema`: the same validation (from
    attributes), the same encoder, so a cached answer is byte for byte what the operation would have sent."""
    adapter = _adapter(schema)
    data = adapter.dump_python(adapter.validate_python(value, from_attributes=True))
    return json.dumps(data, cls=NinjaJSONEncoder).encode()


JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    body: bytes
    versions: tuple
    expires_at: float | None = None  # when something in it changes with time alone (a price going stale)
    content_type: str = JSON


class ReadCache:
    """The last answer of each read, served again while the data it was made from has not changed.

    A read names the versions of everything it reads (the database's and the price store's change counters,
    `database_version()` and the store's): while they are the same, so is the answer, and it is sent without a
    thread, a query or a serialization. Versions are taken BEFORE the answer is made, so a write landing while it
    is made shows as a newer version at the next read, which makes it again; never the other way round. A read
    whose versions cannot be known cheaply (None: PostgreSQL, the Redis store) is made afresh every time.

    Why a trade is never followed by an old book: the trade's commit changes the database's counter before its
    answer leaves the server, in whichever process it ran, and every cached read compares counters first.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries  # every distinct query string is a key: bounded, oldest out first
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._lock = threading.Lock()

    async def answer(
        self, key: tuple, versions: tuple, make: Callable[[], tuple[bytes, float | None]], content_type: str = JSON
    ) -> HttpResponse:
        """The response for `key`: the cached one while `versions` match, else `make()` run on a reader thread
        (core.db.read: it may use the ORM) and kept. `make` returns the body and when it expires by time alone.

        The key names everything else the body depends on (the user, the query); the content type is the body's
        (the API's JSON, or a page fragment's HTML)."""
        cacheable = None not in versions
        if cacheable:
            with self._lock:
                cached = self._answers.get(key)
            if (
                cached is not None
                and cached.versions == versions
                and (cached.expires_at is None or time.time() < cached.expires_at)
            ):
                return HttpResponse(cached.body, content_type=cached.content_type)
        body, expires_at = await read(make)
        if cacheable:
            with self._lock:
                self._answers[key] = Answer(body, versions, expires_at, content_type)
                self._answers.move_to_end(key)
                while len(self._answers) > self.max_entries:
                    self._answers.popitem(last=False)
        return HttpResponse(body, content_type=content_type)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


reads = ReadCache()
