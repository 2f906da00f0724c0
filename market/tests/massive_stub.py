"""A local HTTP server speaking Massive's stock snapshot endpoint, scripted per test."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

SNAPSHOT_PATH = "/v2/snapshot/locale/us/markets/stocks/tickers"


def snapshot(ticker: str, last: float | None = None, day_open: float | None = None, day_close: float | None = None) -> dict:
    entry: dict = {"ticker": ticker, "todaysChange": 0.1, "todaysChangePerc": 0.05, "updated": 1}
    if last is not None:
        entry["lastTrade"] = {"p": last, "s": 100, "x": 4, "t": 1}
    if day_open is not None or day_close is not None:
        entry["day"] = {"o": day_open, "c": day_close, "h": 0, "l": 0, "v": 1, "vw": 0}
    return entry


class MassiveStub:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        # Each poll pops the next scripted reply; the last one repeats.
        self.replies: list[tuple[int, dict | str]] = [(200, {"status": "OK", "tickers": []})]
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                stub.requests.append(
                    {"path": url.path, "query": parse_qs(url.query), "auth": self.headers.get("Authorization")}
                )
                status, body = stub.replies.pop(0) if len(stub.replies) > 1 else stub.replies[0]
                if url.path != SNAPSHOT_PATH:
                    status, body = 404, {"status": "NOT_FOUND"}
                payload = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *replies: tuple[int, dict | str]) -> None:
        self.replies = list(replies)

    def __enter__(self) -> "MassiveStub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
