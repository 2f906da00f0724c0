"""A local stand-in for Sentry's ingest: it takes envelopes (POST /api/<project>/envelope/), keeps their events,
and answers 200, as sentry.io would. DSN: `stub.dsn`."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SentryStub:
    def __init__(self) -> None:
        self.envelopes: list[dict] = []  # {"path", "headers", "raw", "items": [(item header, payload)]}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with stub._lock:
                    stub.envelopes.append({"path": self.path, "headers": dict(self.headers), "raw": body,
                                           "items": parse(body)})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey0123456789@127.0.0.1:{self.server.server_port}/42"

    def events(self) -> list[dict]:
        with self._lock:
            return [payload for envelope in self.envelopes for header, payload in envelope["items"]
                    if header.get("type") == "event"]

    def raw(self) -> bytes:
        with self._lock:
            return b"\n".join(envelope["raw"] for envelope in self.envelopes)

    def wait_for_events(self, count: int = 1, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()

    def __enter__(self) -> SentryStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def parse(body: bytes) -> list[tuple[dict, dict]]:
    """An envelope's items: a header line, then per item a header line (with its length, or up to the newline) and
    its payload."""
    lines = body.split(b"\n", 1)
    rest = lines[1] if len(lines) > 1 else b""
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        length = header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1:]
        try:
            items.append((header, json.loads(payload)))
        except ValueError:
            items.append((header, {"raw": payload.decode(errors="replace")}))
    return items
