"""The web server's HTTP protocol: uvicorn's httptools protocol, with limits on a request's head and framing.

uvicorn enforces no limit on a head with httptools (its `h11_max_incomplete_event_size` applies to h11 only):
measured, a 5 MB block of headers was parsed and handed to the app. Here the request line and headers must
end within settings.MAX_REQUEST_HEADER_BYTES, or the client gets a 431 and the connection is closed.

The head is fed to the parser no further than its remaining allowance, so the check is exact whatever the
network's chunking: the parser says where the head ended. The allowance restarts when a request ends, so for a
request pipelined behind another in one read the count is approximate, but never more than twice the limit.

What follows the head is bounded too. The handler refuses a body past DATA_UPLOAD_MAX_MEMORY_SIZE, but it sees
only the body: a chunked body's trailers are headers after the head, which uvicorn appends to the request's
headers uncounted (measured: 200 MB of them taken, the process grown by 420 MB; a `Content-Type` trailer passed
the API's JSON-only guard), and httptools buffers a header value whole before handing it over. So a trailer is
refused with a 400 (the app takes none), and the raw bytes after a head are capped per message at the body
limit times FRAMING_ALLOWANCE plus the head limit (chunk sizes and line ends), past which the client gets a 413.

And a head must arrive in time: neither uvicorn nor httptools bound how long a client may take to send one
(measured: 300 connections each holding 31 KB of an unfinished head for 20 s, none closed). A head still
incomplete REQUEST_HEAD_TIMEOUT_SECONDS after its first byte (or after the connection opened) gets a 408 and
the connection is closed. Between requests, uvicorn's own keep-alive timeout closes an idle connection.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TOO_LARGE = b"Request header fields too large."
FRAMING_ALLOWANCE = 2  # a chunked body's framing, for a client that sends it in small chunks


class TrailerRefused(Exception):
    """A header after the head: raised inside the parser's callback, so the parser stops at once."""


class LimitedHeadProtocol(HttpToolsProtocol):
    # `manage.py serve` sets these from settings (MAX_REQUEST_HEADER_BYTES, DATA_UPLOAD_MAX_MEMORY_SIZE,
    # REQUEST_HEAD_TIMEOUT_SECONDS).
    max_head_bytes = 32 * 1024
    max_body_bytes = 64 * 1024
    head_timeout = 10.0

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_left: int | None = self.max_head_bytes  # None once the head is complete
        self._rest_left: int | None = None  # the bytes a message may still send after its head
        self._head_deadline: asyncio.TimerHandle | None = None
        self._trailer_refused = False
        self._start_head_deadline()

    def connection_lost(self, exc) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_left is None:
            self._trailer_refused = True
            raise TrailerRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_left = None
        self._rest_left = self.max_body_bytes * FRAMING_ALLOWANCE + self.max_head_bytes
        self._cancel_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_left = self.max_head_bytes
        self._rest_left = None

    def data_received(self, data: bytes) -> None:
        while data:
            in_head = self._head_left is not None
            if in_head and self._head_left == self.max_head_bytes:
                self._start_head_deadline()  # the first byte of a head (the first request's started at connect)
            allowance = self._head_left if in_head else self._rest_left
            piece, data = data[:allowance], data[allowance:]
            if in_head:
                self._head_left -= len(piece)
            else:
                self._rest_left -= len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
            if in_head and self._head_left == 0:
                self._refuse(431, "Request Header Fields Too Large", TOO_LARGE, "headers passed %d bytes",
                             self.max_head_bytes)
                return
            if not in_head and self._rest_left == 0:
                self._refuse(413, "Content Too Large", b"Request body too large.",
                             "body and framing passed %d bytes", self.max_body_bytes * FRAMING_ALLOWANCE)
                return

    def send_400_response(self, msg: str) -> None:
        if self._trailer_refused:
            msg = "Trailers are not accepted."
            self.logger.warning("Refused a request that sent trailers.")
        if self.cycle is not None and self.cycle.response_started and not self.cycle.response_complete:
            self.transport.close()  # a response is under way: a second one would corrupt it
            return
        super().send_400_response(msg)

    def _start_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A head pipelined behind a response still being made: its time starts when that response ends.
            self._start_head_deadline()
            return
        if self._head_left == self.max_head_bytes:
            self.transport.close()  # not a byte of a request: nothing to answer
            return
        self._refuse(408, "Request Timeout", b"Request head not received in time.",
                     "head took over %s s", self.head_timeout)

    def _refuse(self, status: int, reason: str, body: bytes, why: str, *args) -> None:
        self.logger.warning("Refused a request whose " + why + ".", *args)
        self._cancel_head_deadline()
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(
                b"HTTP/1.1 %d %s\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
            )
        self.transport.close()
