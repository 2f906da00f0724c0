"""A real HTTP client for the price stream: records each event with the time it arrived."""

from __future__ import annotations

import json
import threading
import time

import httpx


class StreamRecorder:
    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[float, dict]] = []
        self.retry: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> StreamRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _read(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(5.0, read=30.0)) as client:
            with client.stream("GET", self.url) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("retry: "):
                        self.retry = int(line[len("retry: "):])
                    elif line.startswith("data: "):
                        self.events.append((time.monotonic(), json.loads(line[len("data: "):])))

    def tickers_since(self, since: float) -> set[str]:
        return {event["ticker"] for at, event in list(self.events) if at >= since}

    def wait_for(self, predicate, timeout: float) -> float | None:
        """Seconds until predicate(events) holds, or None if it did not within timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if predicate(list(self.events)):
                return time.monotonic() - start
            time.sleep(0.02)
        return None
