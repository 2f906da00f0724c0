"""Price sources behind one interface: the simulator (default) and Massive (Polygon.io) snapshots.

The worker asks a source for the prices of the tickers it must price; it never knows which source runs.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from market.bars import MINUTE, Bar
from market.quotes import storable_price
from market.sessions import EASTERN
from market.simulator import PriceSimulator

logger = logging.getLogger(__name__)


@dataclass
class Quotes:
    """What one poll of a source produced."""

    prices: dict[str, float]
    # Session opening prices the source knows better than "first price we saw" (Massive's day.open,
    # or the previous close before the open).
    open_prices: dict[str, float] = field(default_factory=dict)
    # Tickers the source answered for but does not know: shown to the user as unknown.
    unknown: set[str] = field(default_factory=set)
    # When the source says each price was made (epoch seconds): the quote's timestamp. Absent: the poll's time.
    times: dict[str, float] = field(default_factory=dict)
    # A standing remark about the feed for /api/health (e.g. end-of-day prices only), or None.
    notice: str | None = None


class SourceUnavailable(Exception):
    """The source could not be read this time (auth, rate limit, network); the worker backs off."""


class PriceSource(Protocol):
    name: str
    interval: float

    def fetch(self, tickers: list[str]) -> Quotes: ...


class SimulatorSource:
    name = "simulator"

    def __init__(
        self,
        *,
        interval: float = 0.5,
        seed: int | None = None,
        start_prices: dict[str, float] | None = None,
        start_opens: dict[str, float] | None = None,
    ):
        self.interval = interval
        self.simulator = PriceSimulator(tick_seconds=interval, seed=seed)
        # The last price and session open of each ticker priced, starting from the store's (so a restart does
        # not snap prices back to the seeds). A ticker that leaves is forgotten, as the store forgets it: what
        # this worker holds is bounded by what it prices now, not by every ticker ever added (issue 19). One
        # added again starts over from its seed price.
        self._last = dict(start_prices or {})
        self._opens = dict(start_opens or {})

    def fetch(self, tickers: list[str]) -> Quotes:
        priced = self._priced  # once: a property in the comprehension built this set once per ticker, O(N^2)
        entering = [t for t in tickers if t not in priced]
        if self.simulator.tickers != list(tickers):
            keep = set(tickers)
            self._last = {t: p for t, p in self._last.items() if t in keep}
            self._opens = {t: p for t, p in self._opens.items() if t in keep}
        self.simulator.set_tickers(tickers, start_prices=self._last)
        prices = self.simulator.step()
        self._last.update(prices)
        # An entering ticker's first quote is its start price, unmoved; the session opens there unless the
        # worker already knew its open.
        opens = {t: self._opens.setdefault(t, prices[t]) for t in entering}
        for ticker, move in self.simulator.last_events.items():
            logger.info("simulated event: %s %+.1f%%", ticker, move * 100)
        return Quotes(prices=prices, open_prices=opens)

    @property
    def _priced(self) -> set[str]:
        return set(self.simulator.tickers)


# --- Massive ------------------------------------------------------------------------------------

# Above this many tickers the `tickers=` query passes common 8 KB URL limits (1,000 tickers make ~13 KB):
# take the full-market snapshot instead and keep the tickers asked for (still one call).
FULL_MARKET_ABOVE = 250
# Polling faster than this buys nothing (the snapshot moves about once a second at best) and burns quota.
MIN_POLL_SECONDS = 1.0
# A Bearer token (RFC 6750 b64token): what a Massive key is made of. Anything else (whitespace, control
# characters) would break the Authorization header, and the header library would echo it in its error.
API_KEY_PATTERN = re.compile(r"[A-Za-z0-9._~+/-]{1,200}=*")
SNAPSHOT_CLOSED_NOTICE = (
    "this Massive plan has no snapshot access: end-of-day prices (the previous session's closes), "
    "not live quotes"
)
OK_STATUSES = {"OK", "DELAYED"}
# The most base minutes one aggregates call returns (Massive's cap): 30 days of extended hours is about 29,000.
AGGS_LIMIT = 50_000

def validate_api_key(key: str) -> None:
    """Refuse a malformed key at start, without ever repeating it."""
    if not API_KEY_PATTERN.fullmatch(key or ""):
        raise ImproperlyConfigured(
            "MASSIVE_API_KEY is malformed: a Massive key is 1 to 200 letters, digits and - . _ ~ + / "
            f"({len(key or '')} characters given, some of them not allowed, e.g. whitespace or a control character; "
            "the key itself is not shown)"
        )


class _LastResponse:
    """Wraps the client's urllib3 pool to keep the last response: the package's BadResponse drops the status."""

    def __init__(self, pool) -> None:
        self._pool = pool
        self.status: int | None = None

    def request(self, *args, **kwargs):
        self.status = None
        response = self._pool.request(*args, **kwargs)
        self.status = response.status
        return response

    def __getattr__(self, name):
        return getattr(self._pool, name)


class MassiveSource:
    """Polls the snapshot of every priced ticker in one `get_snapshot_all` call per poll.

    A plan without snapshot access (403) falls back to one grouped-daily call per poll: end-of-day prices.
    """

    name = "massive"

    def __init__(
        self, *, api_key: str, interval: float = 15.0, base_url: str = "https://api.massive.com", clock=time.time,
        calls_per_minute: int = 5,
    ):
        validate_api_key(api_key)
        self.clock = clock  # epoch seconds: which session is "previous" (tests pin it)
        self.calls_per_minute = calls_per_minute
        # Only the Massive path pays for the client's imports.
        import urllib3
        from massive import RESTClient
        from massive.exceptions import BadResponse
        from urllib3.util.retry import Retry

        _quiet_package_logger()
        self._key = api_key
        self.failures = (BadResponse, urllib3.exceptions.HTTPError, OSError, ValueError)
        self._bad_response = BadResponse
        self.interval = max(float(interval), MIN_POLL_SECONDS)
        if self.interval != interval:
            logger.warning("MASSIVE_POLL_SECONDS=%s is below the floor: polling every %.1fs", interval, self.interval)
        # No retries inside a tick (urllib3 would sleep on Retry-After in the worker; we back off ourselves),
        # and every status comes back as a response so the error can say which status it was.
        no_retry = Retry(total=0, status_forcelist=(), raise_on_status=False, respect_retry_after_header=False)
        self.client = RESTClient(
            api_key=api_key,
            base=base_url.rstrip("/"),
            retries=0,
            connect_timeout=5.0,
            read_timeout=10.0,
            connection_pool_kw={"retries": no_retry},
        )
        self._http = self.client.client = _LastResponse(self.client.client)
        self.end_of_day = False  # set once the plan turned out to have no snapshot access
        self._eod_back = 1  # how many weekdays back the end-of-day session is (more on holidays)
        self._eod_today: date | None = None
        self._priced: set[str] = set()  # tickers Massive has priced at least once

    # --- one poll ------------------------------------------------------------------------------

    def fetch(self, tickers: list[str]) -> Quotes:
        if not tickers:
            return Quotes(prices={})
        if not self.end_of_day:
            try:
                return self._fetch_snapshot(tickers)
            except SourceUnavailable as exc:
                if self._http.status != 403:
                    raise
                self.end_of_day = True
                logger.warning("%s (%s); falling back to one grouped-daily call per poll", SNAPSHOT_CLOSED_NOTICE, exc)
        return self._fetch_end_of_day(tickers)

    def _fetch_snapshot(self, tickers: list[str]) -> Quotes:
        full_market = len(tickers) > FULL_MARKET_ABOVE
        body = self._call(
            self.client.get_snapshot_all,
            "stocks",
            tickers=None if full_market else list(tickers),
            include_otc=True,
            raw=True,
        )
        if body.get("status") not in OK_STATUSES or not _is_list_or_empty(body, "tickers", "count"):
            raise SourceUnavailable(f"Massive sent an unreadable snapshot (status {body.get('status')!r})")
        from massive.rest.models import TickerSnapshot

        wanted = set(tickers)
        now = self.clock()
        quotes = Quotes(prices={})
        for entry in body.get("tickers") or ():
            if not isinstance(entry, dict) or entry.get("ticker") not in wanted:
                continue
            try:
                # Real answers zero-fill a block rather than null it; a null one is read as missing.
                snap = TickerSnapshot.from_dict({k: v for k, v in entry.items() if v is not None})
                priced = _snapshot_quote(snap, now)
            except (AttributeError, TypeError, ValueError) as exc:
                logger.warning("Massive snapshot of %s unreadable, skipped: %s", entry.get("ticker"), exc)
                priced = None
            if priced is None:
                continue  # every field zero: no price today, and none we could honestly show
            price, at, base = priced
            quotes.prices[snap.ticker] = price
            if at:
                quotes.times[snap.ticker] = at
            if base:
                quotes.open_prices[snap.ticker] = base
        return self._finish(quotes, tickers)

    def _fetch_end_of_day(self, tickers: list[str]) -> Quotes:
        session = self._eod_session()
        body = self._call(
            self.client.get_grouped_daily_aggs, session.isoformat(), adjusted=True, include_otc=True, raw=True
        )
        if body.get("status") not in OK_STATUSES or not _is_list_or_empty(body, "results", "resultsCount"):
            raise SourceUnavailable(f"Massive sent an unreadable grouped-daily answer (status {body.get('status')!r})")
        results = body.get("results") or []
        if not results:
            # A market holiday has no bars: the next poll asks for the session before it. Nothing is unknown yet.
            self._eod_back = min(self._eod_back + 1, 7)
            return Quotes(prices={}, notice=SNAPSHOT_CLOSED_NOTICE)
        from massive.rest.models import GroupedDailyAgg

        wanted = set(tickers)
        closed_at = datetime.combine(session, dtime(16), tzinfo=EASTERN).timestamp()
        quotes = Quotes(prices={}, notice=f"{SNAPSHOT_CLOSED_NOTICE}; closes of {session.isoformat()}")
        for entry in results:
            if not isinstance(entry, dict) or entry.get("T") not in wanted:
                continue
            try:
                bar = GroupedDailyAgg.from_dict(entry)
                close, open_ = float(bar.close or 0), float(bar.open or 0)
            except (TypeError, ValueError) as exc:
                logger.warning("Massive daily bar of %s unreadable, skipped: %s", entry.get("T"), exc)
                continue
            if close:
                quotes.prices[bar.ticker] = close
                quotes.times[bar.ticker] = closed_at
                if open_:
                    quotes.open_prices[bar.ticker] = open_
        return self._finish(quotes, tickers)

    def _finish(self, quotes: Quotes, tickers: list[str]) -> Quotes:
        """Tickers without a price are unknown, unless Massive priced them before: then their last quote stays."""
        self._priced = (self._priced & set(tickers)) | set(quotes.prices)
        quotes.unknown = {t for t in tickers if t not in quotes.prices and t not in self._priced}
        if self.end_of_day and quotes.notice is None:
            quotes.notice = SNAPSHOT_CLOSED_NOTICE
        return quotes

    # --- history ---------------------------------------------------------------------------------

    def backfill_every(self) -> float | None:
        """Seconds between two history calls so that the polls and they stay within the plan's calls a minute;
        None when the polls take them all (the free plan's 5 at 15 s polls leaves one a minute)."""
        spare = self.calls_per_minute - math.ceil(60 / self.interval)
        return 60 / spare if spare > 0 else None

    def minute_bars(self, ticker: str, start: float, end: float) -> list[Bar]:
        """One aggregates call: the ticker's minute bars from `start` to `end` (epoch seconds), oldest first. A bar
        that is not a whole minute or not a sane OHLC (a high under its close, a price we could not store) is left
        out: a gap, never an invented price."""
        # Newest first: past AGGS_LIMIT minutes (a PRICE_BARS_DAYS over a month) the call stops at the limit, and
        # what it leaves out is then the oldest, not the minutes a chart shows.
        body = self._call(
            self.client.get_aggs, ticker, 1, "minute", int(start * 1000), int(end * 1000),
            adjusted=True, sort="desc", limit=AGGS_LIMIT, raw=True,
        )
        if body.get("status") not in OK_STATUSES or not _is_list_or_empty(body, "results", "resultsCount"):
            raise SourceUnavailable(f"Massive sent unreadable aggregates (status {body.get('status')!r})")
        by_minute: dict[int, Bar] = {}
        for entry in body.get("results") or ():
            bar = _minute_bar(entry)
            if bar is not None:
                by_minute.setdefault(bar.t, bar)  # a minute sent twice: the first answer's
        return [by_minute[t] for t in sorted(by_minute)]

    def _eod_session(self) -> date:
        """The session whose closes an end-of-day plan can read: the last weekday before today (ET)."""
        today = datetime.fromtimestamp(self.clock(), EASTERN).date()
        if today != self._eod_today:
            self._eod_today, self._eod_back = today, 1
        day, back = today, self._eod_back
        while back:
            day -= timedelta(days=1)
            if day.weekday() < 5:
                back -= 1
        return day

    def _call(self, method, *args, **kwargs) -> dict:
        """One request through the package; the body decoded here, so an empty list never passes for a bad body."""
        try:
            response = method(*args, **kwargs)
            body = json.loads(response.data.decode("utf-8"))
        except self._bad_response as exc:
            raise SourceUnavailable(self._describe(exc, self._http.status)) from exc
        except self.failures as exc:
            raise SourceUnavailable(self._describe(exc, self._http.status)) from exc
        if not isinstance(body, dict):
            raise SourceUnavailable("Massive sent an unreadable answer (not a JSON object)")
        return body

    def _describe(self, exc: Exception, status: int | None) -> str:
        if isinstance(exc, self._bad_response):
            text = _error_message(str(exc))
        elif isinstance(exc, ValueError) and status == 200:
            text = "the answer is not JSON"
        else:
            text = str(getattr(exc, "reason", None) or exc)  # urllib3's MaxRetryError wraps the real cause
        text = _redact(text, self._key)
        return (f"HTTP {status} from Massive: {text}" if status else text)[:300]


def _minute_bar(entry: object) -> Bar | None:
    """One aggregates result (`t` its start in milliseconds, `o` `h` `l` `c`) as a minute bar, or None."""
    if not isinstance(entry, dict):
        return None
    start = entry.get("t")
    if isinstance(start, bool) or not isinstance(start, int) or start <= 0:
        return None
    t = start // 1000
    try:
        o, h, l, c = (storable_price(entry[k]) for k in "ohlc")  # noqa: E741
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if None in (o, h, l, c) or t % MINUTE or not (l <= min(o, c) and h >= max(o, c)):
        return None
    return Bar(t, o, h, l, c)


def _is_list_or_empty(body: dict, key: str, count_key: str) -> bool:
    """A list under `key`; or, for an empty answer, the key absent or null with a zero count."""
    value = body.get(key)
    if isinstance(value, list):
        return True
    return value is None and body.get(count_key) in (0, None) and "status" in body


def _snapshot_quote(snap, now: float) -> tuple[float, float | None, float | None] | None:
    """(price, when it was made, change base) from one ticker's snapshot, or None when it holds no price.

    Blocks are zero-filled rather than missing in real answers; any block may still be missing.
    """
    trade, minute, day, prev = snap.last_trade, snap.min, snap.day, snap.prev_day
    updated = _epoch(snap.updated)
    minute_at = _epoch(minute.timestamp) if minute else None
    if trade and trade.price:
        price, at = trade.price, _epoch(trade.sip_timestamp) or updated or minute_at
    elif minute and minute.close:
        price, at = minute.close, updated or minute_at
    elif day and day.close:
        price, at = day.close, updated or minute_at
    elif prev and prev.close:
        price, at = prev.close, _previous_close_time(now)
    else:
        return None
    # The change base: today's open once the market has opened; before that (pre-market, after the
    # 3:30 ET reset) the previous close, never a stale open from an earlier session.
    base = day.open if day and day.open else prev.close if prev and prev.close else None
    return float(price), at, float(base) if base else None


def _epoch(value) -> float | None:
    """Epoch seconds from Massive's timestamps, whichever unit they come in (ns, µs, ms or s); 0 is no time."""
    if not value:
        return None
    value = float(value)
    if value >= 1e17:
        return value / 1e9
    if value >= 1e14:
        return value / 1e6
    if value >= 1e11:
        return value / 1e3
    return value


def _previous_close_time(now: float) -> float:
    """16:00 ET of the last weekday before today (ET): when a prevDay close was made."""
    day = datetime.fromtimestamp(now, EASTERN).date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, dtime(16), tzinfo=EASTERN).timestamp()


def _error_message(body: str) -> str:
    """The message of a Massive error body ({"status": "NOT_AUTHORIZED", "message": ...}), else the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("status", "message", "error") if data.get(k)]
        if parts:
            return ": ".join(parts)
    return body.strip()


def _redact(text: str, key: str) -> str:
    """The key, raw or as Python escapes it in a repr, never leaves this module."""
    for form in {key, repr(key)[1:-1], repr(key.encode())[2:-1]}:
        if form:
            text = text.replace(form, "<key>")
    return text


def _quiet_package_logger() -> None:
    """The package adds its own stdout handler to its loggers; ours (via the root) prints once is enough."""
    for name in ("RESTClient", "WebSocketClient"):
        package_logger = logging.getLogger(name)
        for handler in list(package_logger.handlers):
            package_logger.removeHandler(handler)


def make_source(
    *, settings, start_prices: dict[str, float] | None = None, start_opens: dict[str, float] | None = None
) -> PriceSource:
    """Massive when MASSIVE_API_KEY is set, the simulator otherwise."""
    if settings.MASSIVE_API_KEY:
        return MassiveSource(
            api_key=settings.MASSIVE_API_KEY,
            interval=settings.MASSIVE_POLL_SECONDS,
            base_url=settings.MASSIVE_BASE_URL,
            calls_per_minute=settings.MASSIVE_CALLS_PER_MINUTE,
        )
    return SimulatorSource(
        interval=settings.MARKET_TICK_SECONDS,
        seed=settings.SIMULATOR_SEED,
        start_prices=start_prices,
        start_opens=start_opens,
    )
