"""A local webhook receiver for the tests: it keeps every request (headers, body, when it came) and answers as
scripted: (status, seconds to wait first); the last answer repeats."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, float]] = [(200, 0.0)]
        self._lock = threading.Lock()
        self.release = threading.Event()  # set: a scripted wait ends at once
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "at": time.monotonic()})
                    answers = receiver.answers
                    status, wait = answers.pop(0) if len(answers) > 1 else answers[0]
                if wait:
                    receiver.release.wait(wait)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def script(self, *answers: tuple[int, float]) -> None:
        with self._lock:
            self.answers = list(answers)

    def events(self) -> list[dict]:
        with self._lock:
            return [json.loads(r["body"]) for r in self.requests]

    def wait_for(self, count: int, timeout: float = 15) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
