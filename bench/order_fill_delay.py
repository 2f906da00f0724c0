"""Issue 22: from the tick that reaches a resting order to its owner's open page knowing it filled.

    .venv/bin/python bench/order_fill_delay.py [--fills 30]

A throwaway FinAlly (bench/stack.py: SQLite, the simulator's worker, one uvicorn), and one client holding the
page's own stream (`GET /stream/prices`, the HTML one the workstation opens). Over and over: a buy limit on TSLA
(the simulator's most volatile name) one basis point under the live price, placed through `POST /api/orders`;
then, at each `book` event the stream delivers, the order is read back (`GET /api/orders/{id}`) until it has
filled. For each fill:

- tick -> fill: the fill's `filled_at` less the `at` of the last tick the stream delivered at or before it (the
  tick the worker matched: it matches right after publishing);
- fill -> page told: when the client read the `book` event, less `filled_at` (one machine, one clock);
- page told -> panels: the positions panel fetched as htmx does on that event (`GET /panels/positions`).

Prints p50 / p90 / max of each and of the whole, tick to panels.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import BenchStack  # noqa: E402

TICKER = "TSLA"


class PageStream(threading.Thread):
    """The page's stream: each tick's `at` as it arrives, and each `book` event, stamped when read."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.ticks: list[float] = []
        self.books: list[float] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            pass  # the stack stopped under it: the run is over

    def _read(self) -> None:
        with httpx.stream("GET", self.base_url + "/stream/prices", timeout=None) as response:
            name = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "tick":
                    found = re.search(r'data-at="([0-9.]+)"', line)
                    if found:
                        self.ticks.append(float(found.group(1)))
                elif line.startswith("data: ") and name == "book":
                    with self.changed:
                        self.books.append(time.time())
                        self.changed.notify_all()
                elif not line:
                    name = None

    def wait_book(self, after: int, timeout: float) -> float | None:
        """The read time of the first book event past the `after`th, or None after `timeout`."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.books) > after, timeout):
                return None
            return self.books[after]


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[max(0, round(len(values) * 0.9) - 1)]
    return f"p50 {statistics.median(values):7.1f}   p90 {p90:7.1f}   max {values[-1]:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fills", type=int, default=30)
    args = parser.parse_args()
    rows = []
    with BenchStack() as stack:
        api = httpx.Client(base_url=stack.base_url + "/api", timeout=10)
        page = httpx.Client(base_url=stack.base_url, timeout=10, headers={"HX-Request": "true"})
        stream = PageStream(stack.base_url)
        stream.start()
        while not stream.ticks:
            time.sleep(0.05)
        attempts = 0
        while len(rows) < args.fills and attempts < args.fills * 4:
            attempts += 1
            live = {q["ticker"]: q for q in api.get("/watchlist").json()}[TICKER]["price"]
            limit = f"{live * 0.9999:.2f}"
            seen = len(stream.books)
            placed = api.post("/orders", json={"ticker": TICKER, "side": "buy", "qty": 1, "type": "limit",
                                               "limit_price": limit, "time_in_force": "gtc"})
            order = placed.json()
            if placed.status_code != 201 or order["status"] != "new":
                continue  # the price moved to it before it arrived: it filled at once, nothing to time
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                told = stream.wait_book(seen, max(0.0, deadline - time.monotonic()))
                if told is None:
                    break
                seen += 1
                order = api.get(f"/orders/{order['id']}").json()
                if order["status"] == "filled":
                    began = time.perf_counter()
                    page.get("/panels/positions").raise_for_status()
                    panels = (time.perf_counter() - began) * 1000
                    filled_at = datetime.fromisoformat(order["filled_at"].replace("Z", "+00:00")).timestamp()
                    tick = max((at for at in stream.ticks if at <= filled_at), default=None)
                    if tick is not None:
                        rows.append(((filled_at - tick) * 1000, (told - filled_at) * 1000, panels))
                    break
            else:
                api.delete(f"/orders/{order['id']}")
    if not rows:
        raise SystemExit("no fills measured")
    print(f"{len(rows)} resting orders filled by the worker, each seen by its owner's page:")
    print(f"  tick -> fill committed (worker):     {percentiles([r[0] for r in rows])}")
    print(f"  fill -> book event read by the page: {percentiles([r[1] for r in rows])}")
    print(f"  book event -> positions panel:       {percentiles([r[2] for r in rows])}")
    print(f"  tick -> panel, in all:               {percentiles([sum(r) for r in rows])}")


if __name__ == "__main__":
    main()
