"""The web server's HTTP protocol: uvicorn's httptools protocol, with a limit on the size of a request's head.

uvicorn enforces no such limit with httptools (its `h11_max_incomplete_event_size` applies to h11 only):
measured, a 5 MB block of headers was parsed and handed to the app. Here the request line and headers must
end within settings.MAX_REQUEST_HEADER_BYTES, or the client gets a 431 and the connection is closed.

The head is fed to the parser no further than its remaining allowance, so the check is exact whatever the
network's chunking: the parser says where the head ended. The allowance restarts when a request ends, so for a
request pipelined behind another in one read the count is approximate, but never more than twice the limit.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TOO_LARGE = b"Request header fields too large."


class LimitedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = 32 * 1024  # `manage.py serve` sets settings.MAX_REQUEST_HEADER_BYTES

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_left: int | None = self.max_head_bytes  # None while a body is being read

    def on_headers_complete(self) -> None:
        self._head_left = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_left = self.max_head_bytes

    def data_received(self, data: bytes) -> None:
        while data and self._head_left is not None:
            piece, data = data[: self._head_left], data[self._head_left :]
            self._head_left -= len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
            if self._head_left == 0:
                self._refuse()
                return
        if data:
            super().data_received(data)

    def _refuse(self) -> None:
        self.logger.warning("Refused a request whose headers passed %d bytes.", self.max_head_bytes)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
        )
        self.transport.close()
