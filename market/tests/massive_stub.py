"""A local HTTP server speaking Massive's stock snapshot, grouped-daily and aggregates endpoints, scripted per test.

Its answers have the real shape: `day`, `min` and `prevDay` are always present and zero-filled when there is
no data (never null), timestamps are nanoseconds (`min.t` milliseconds), every answer has `request_id` and
`count`, and the Starter plan's snapshot has no `lastTrade`. The fixtures below are the hours and plans a
trader meets: a regular session, pre-market, the 3:30 ET reset, Starter, a ticker with every field zero.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

SNAPSHOT_PATH = "/v2/snapshot/locale/us/markets/stocks/tickers"
GROUPED_PREFIX = "/v2/aggs/grouped/locale/us/market/stocks/"
AGGS_PREFIX = "/v2/aggs/ticker/"
ET = ZoneInfo("America/New_York")
_ids = itertools.count(1)


def et(*args: int) -> float:
    """Epoch seconds of a wall-clock time in New York: et(2026, 11, 24, 15, 59, 30)."""
    return datetime(*args, tzinfo=ET).timestamp()


def ns(epoch: float) -> int:
    return int(round(epoch * 1e9))


def ms(epoch: float) -> int:
    return int(round(epoch * 1e3))


def request_id() -> str:
    return f"{next(_ids):032x}"


def bar(
    o: float = 0, c: float = 0, *, h: float | None = None, l: float | None = None, v: float = 0  # noqa: E741 (the API's keys)
) -> dict:
    """A day or prevDay block; all zeros when there is no data."""
    return {
        "o": o, "h": h if h is not None else max(o, c), "l": l if l is not None else min(o, c), "c": c,
        "v": v, "vw": round((o + c) / 2, 4),
    }


def minute(c: float = 0, at: float | None = None, *, o: float | None = None, v: float = 0, av: float = 0) -> dict:
    """The `min` block: the latest minute bar, its `t` in milliseconds (the bar's start)."""
    o = c if o is None else o
    return {
        "av": av, "t": ms(at) if at else 0, "n": 1 if c else 0, "o": o, "h": max(o, c), "l": min(o, c), "c": c,
        "v": v, "vw": c,
    }


def trade(p: float = 0, at: float | None = None) -> dict:
    return {
        "c": [14, 41] if p else None, "i": "4046" if p else "", "p": p, "s": 100 if p else 0,
        "t": ns(at) if at else 0, "x": 4 if p else 0,
    }


def quote(bid: float = 0, ask: float = 0, at: float | None = None) -> dict:
    return {"P": ask, "S": 2 if ask else 0, "p": bid, "s": 3 if bid else 0, "t": ns(at) if at else 0}


def snapshot(
    ticker: str,
    last: float | None = None,
    day_open: float | None = None,
    day_close: float | None = None,
    *,
    prev_close: float = 0,
    prev_open: float | None = None,
    minute_close: float = 0,
    at: float | None = None,
    updated: float | None = None,
    starter: bool = False,
) -> dict:
    """One ticker's snapshot in the real shape. `last` is the last trade's price at `at` (absent on Starter)."""
    day_open = day_open or 0
    day_close = day_close or 0
    price = last or minute_close or day_close or prev_close
    change = round(price - prev_close, 4) if price and prev_close else 0
    entry = {
        "ticker": ticker,
        "todaysChangePerc": round(change / prev_close * 100, 4) if prev_close else 0,
        "todaysChange": change,
        "updated": ns(updated if updated is not None else at) if (updated or at) else 0,
        "day": bar(day_open, day_close, v=1_000_000 if day_close else 0),
        "min": minute(minute_close, at, v=1200 if minute_close else 0),
        "prevDay": bar(prev_open if prev_open is not None else prev_close, prev_close, v=900_000 if prev_close else 0),
    }
    if not starter:
        entry["lastQuote"] = quote(round(last - 0.01, 2), round(last + 0.01, 2), at) if last else quote()
        entry["lastTrade"] = trade(last, at) if last else trade()
    return entry


def answer(*entries: dict) -> dict:
    """The snapshot endpoint's 200 body."""
    return {"status": "OK", "request_id": request_id(), "count": len(entries), "tickers": list(entries)}


# --- the hours and plans a trader meets (2026-11-24 is a Tuesday; 2026-11-23 the session before) ---

SESSION_CLOSE = et(2026, 11, 24, 16, 0)
PREVIOUS_CLOSE = et(2026, 11, 23, 16, 0)


def regular(ticker: str, last: float, *, day_open: float, prev_close: float, at: float) -> dict:
    """During (or after) the session: every block filled."""
    return snapshot(ticker, last, day_open, last, prev_close=prev_close, minute_close=last, at=at)


def premarket(ticker: str, last: float, *, prev_close: float, at: float) -> dict:
    """4:00–9:30 ET: pre-market trades move lastTrade and min; `day` holds zeros."""
    return snapshot(ticker, last, prev_close=prev_close, minute_close=last, at=at)


def after_reset(ticker: str, *, prev_close: float, prev_open: float | None = None) -> dict:
    """3:30–4:00 ET: the snapshot was cleared; only prevDay (the session that just closed) remains."""
    return snapshot(ticker, prev_close=prev_close, prev_open=prev_open)


def starter(ticker: str, minute_close: float, *, day_open: float, prev_close: float, at: float) -> dict:
    """The Starter plan: 15 minutes delayed, no lastTrade (nor lastQuote)."""
    return snapshot(
        ticker, None, day_open, minute_close, prev_close=prev_close, minute_close=minute_close, at=at, starter=True
    )


def all_zero(ticker: str) -> dict:
    """A listed ticker with no data at all: every field zero."""
    return snapshot(ticker)


def grouped(session: str, *bars: tuple[str, float, float]) -> dict:
    """The grouped-daily endpoint's 200 body for (ticker, open, close) bars; no bars is a market holiday."""
    start = ms(datetime.fromisoformat(session).replace(tzinfo=ET).timestamp())
    results = [
        {
            "T": t, "v": 1_000_000, "vw": round((o + c) / 2, 4), "o": o, "c": c, "h": max(o, c), "l": min(o, c),
            "t": start, "n": 1000,
        }
        for t, o, c in bars
    ]
    body = {
        "adjusted": True, "queryCount": len(results), "request_id": request_id(), "resultsCount": len(results),
        "status": "OK",
    }
    if results:
        body["results"] = results
    return body


def aggs(ticker: str, *bars: tuple[float, float, float, float, float]) -> dict:
    """The aggregates endpoint's 200 body for (start epoch seconds, o, h, l, c) minute bars."""
    results = [
        {"v": 1200, "vw": c, "o": o, "c": c, "h": h, "l": low, "t": ms(t), "n": 12} for t, o, h, low, c in bars
    ]
    body = {
        "ticker": ticker, "queryCount": len(results), "resultsCount": len(results), "adjusted": True,
        "status": "OK", "request_id": request_id(),
    }
    if results:
        body["results"] = results
    return body


NOT_ENTITLED = {
    "status": "NOT_AUTHORIZED",
    "request_id": "6a7e466379af0a71039d60cc78e72282",
    "message": "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing",
}


class MassiveStub:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        # Each poll pops the next scripted reply; the last one repeats.
        self.replies: list[tuple[int, dict | str]] = [(200, answer())]
        self.grouped_replies: list[tuple[int, dict | str]] = [(404, {"status": "NOT_FOUND", "request_id": "0"})]
        self.aggs_replies: list[tuple[int, dict | str]] = [(404, {"status": "NOT_FOUND", "request_id": "0"})]
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                stub.requests.append(
                    {
                        "path": url.path,
                        "query": parse_qs(url.query),
                        "url_length": len(self.path),
                        "auth": self.headers.get("Authorization"),
                    }
                )
                if url.path == SNAPSHOT_PATH:
                    replies = stub.replies
                elif url.path.startswith(GROUPED_PREFIX):
                    replies = stub.grouped_replies
                elif url.path.startswith(AGGS_PREFIX):
                    replies = stub.aggs_replies
                else:
                    replies = [(404, {"status": "NOT_FOUND", "request_id": "0"})]
                status, body = replies.pop(0) if len(replies) > 1 else replies[0]
                payload = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, *replies: tuple[int, dict | str]) -> None:
        """Replies of the snapshot endpoint."""
        self.replies = list(replies)

    def script_grouped(self, *replies: tuple[int, dict | str]) -> None:
        """Replies of the grouped-daily endpoint."""
        self.grouped_replies = list(replies)

    def script_aggs(self, *replies: tuple[int, dict | str]) -> None:
        """Replies of the aggregates endpoint."""
        self.aggs_replies = list(replies)

    def __enter__(self) -> MassiveStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


TRADED_AT = et(2026, 11, 24, 15, 59, 30)  # a regular session's last minute


def aapl_and_msft(aapl: float) -> dict:
    """A snapshot of AAPL at `aapl` and MSFT at 420, both traded at TRADED_AT: what the tests that move a price
    (resting orders, alerts) poll."""
    return answer(regular("AAPL", aapl, day_open=189.0, prev_close=188.0, at=TRADED_AT),
                  regular("MSFT", 420.0, day_open=419.0, prev_close=418.0, at=TRADED_AT))
