"""What a price store holds and says: quotes, ticks and the feed's status, the rules both stores follow
(which prices are storable, when a price is live), and the store's errors.

Both stores (sqlite_store.py, redis_store.py) and everything that reads them import from here; this module
imports neither, so no store module imports another back.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

# Both stores drop history older than their window once every this many ticks.
PRUNE_EVERY_TICKS = 20


MIN_STALE_SECONDS = 5.0


def stale_after(interval: float | None) -> float:
    """The one freshness rule: how many seconds a price stays live after the worker got it from its source, a few
    source intervals and at least 5 s (a Massive poll every 15 s: 45 s; the simulator's 0.5 s: 5 s).

    The engine refuses to fill at a price older than this (is_live), the stream marks such a quote stale, the
    connection dot turns "delayed" past it (workstation.panels.feed_panel, and the page from its
    `data-stale-after`), and a cached watchlist is made again when one of its quotes crosses it.
    """
    return max(MIN_STALE_SECONDS, 3 * (interval or 0.0))


def is_live(at: float | None, interval: float | None, now: float | None = None) -> bool:
    """Whether a price got at `at` is live now (stale_after).

    `at` is when the worker last got it from its source: the feed's last tick (FeedStatus.is_fresh), or one
    ticker's last price (its quote's `received_at`: a ticker the source stopped sending, halted or delisted,
    goes stale while the feed stays live). Never the source's trade time, which is hours old at night for a
    price that is still current.
    """
    if at is None:
        return False
    return (time.time() if now is None else now) - at <= stale_after(interval)


class WriterAlreadyRunning(RuntimeError):
    """Another price worker holds this store: two writers would interleave their ticks on every stream."""


class StoreUnavailable(RuntimeError):
    """The price store cannot be reached (Redis restarting, network): retry later; nothing was written."""


def iso_utc(epoch: float) -> str:
    """2026-04-10T12:00:00.500Z: what the stream and the API show as a quote's time."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def round_quote(price: float) -> float:
    """Quotes are in cents, sub-dollar prices to 1/100 cent: the price shown is the price filled."""
    return round(price, 2 if price >= 1 else 4)


# Above this a source's number is a glitch, not a price (and would overflow an order's arithmetic).
MAX_PRICE = 1e9


def storable_price(raw: object) -> float | None:
    """The price as the store keeps it (rounded), or None when it is no price: not a finite number, absurd, or
    one that rounds to $0. Checked after rounding: $0.00004 is positive but is stored as 0.0, which values a
    position at $0 and cannot be filled at. Both stores and the worker ask here."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return None
    if not 0 < raw < MAX_PRICE:
        return None
    price = round_quote(float(raw))
    return price if price > 0 else None


@dataclass(frozen=True)
class Quote:
    ticker: str
    price: float
    prev_price: float
    open_price: float
    timestamp: str
    direction: str
    # When the worker last received this ticker's price from its source (epoch s); None if never (a store
    # written before it was kept). What the quote's freshness is measured by: see is_live.
    received_at: float | None = None

    def as_dict(self) -> dict:
        """The quote as the API and the stream show it (SPEC §3)."""
        record = asdict(self)
        del record["received_at"]
        return record

    def record(self) -> dict:
        """Every field, as a store keeps it."""
        return asdict(self)

    @property
    def change_percent(self) -> float:
        return (self.price - self.open_price) / self.open_price * 100 if self.open_price else 0.0


# Every quote of one tick is stamped with the same produced_at: format it once, not once per ticker.
_tick_stamp = lru_cache(maxsize=4)(iso_utc)


class LastPrice(NamedTuple):
    """What next_quote needs of a ticker's previous quote: a store may read just this (a Quote has it too)."""

    price: float
    open_price: float


def next_quote(
    previous: Quote | LastPrice | None,
    ticker: str,
    price: float,
    *,
    produced_at: float,
    source_time: float | None = None,
    source_open: object = None,
) -> Quote:
    """The ticker's quote after a new price: the one update rule both stores write by.

    `price` is already storable (storable_price). It moves from the previous quote's price: up, down, or flat
    when it is the same (what the page flashes); a first price is flat. The session's open is the source's when
    it gives a storable one (`source_open`), else the previous quote's, else this first price. The timestamp is
    when the source says the price was made (`source_time`), else the tick's; `received_at` is always the tick's
    (`produced_at`), since a price's freshness is when the worker got it (is_live).
    """
    prev_price = previous.price if previous is not None else price
    open_price = storable_price(source_open) if source_open is not None else None
    if open_price is None:
        open_price = previous.open_price if previous is not None else price
    direction = "up" if price > prev_price else "down" if price < prev_price else "flat"
    timestamp = iso_utc(source_time) if source_time is not None else _tick_stamp(produced_at)
    return Quote(ticker, price, prev_price, open_price, timestamp, direction, produced_at)


def next_quotes(
    previous: dict[str, Quote] | dict[str, LastPrice],
    prices: dict[str, object],
    keep: set[str],
    *,
    produced_at: float,
    source_times: dict[str, float] | None = None,
    open_prices: dict[str, object] | None = None,
) -> list[Quote]:
    """The new quotes of one tick, in the order of `prices`: one for each kept ticker with a storable price
    (next_quote). A ticker without one keeps its last good quote, which is not written again: it ages."""
    source_times = source_times or {}
    open_prices = open_prices or {}
    fresh = []
    for ticker, raw in prices.items():
        price = storable_price(raw)
        if ticker in keep and price is not None:
            fresh.append(
                next_quote(
                    previous.get(ticker),
                    ticker,
                    price,
                    produced_at=produced_at,
                    source_time=source_times.get(ticker),
                    source_open=open_prices.get(ticker),
                )
            )
    return fresh


@dataclass(frozen=True)
class Tick:
    """Every quote the store held after one step of the worker."""

    seq: int
    produced_at: float
    quotes: tuple[Quote, ...]
    # The source's interval, which the freshness rule scales with; None from a store that did not say it.
    interval: float | None = None

    def is_live(self, quote: Quote) -> bool:
        """Whether the quote's price was live when this tick was made (the stream marks it stale if not)."""
        return is_live(quote.received_at, self.interval, self.produced_at)


@dataclass(frozen=True)
class FeedStatus:
    source: str | None
    interval: float | None
    last_tick_at: float | None
    heartbeat_at: float | None
    error: str | None
    unknown: tuple[str, ...]
    # A standing remark of the source (e.g. a plan with end-of-day prices only), or None.
    notice: str | None = None

    def age(self, now: float | None = None) -> float | None:
        if self.last_tick_at is None:
            return None
        return max(0.0, (now or time.time()) - self.last_tick_at)

    def is_fresh(self, now: float | None = None) -> bool:
        """Fresh while the last tick is younger than a few source intervals (at least 5 s)."""
        return is_live(self.last_tick_at, self.interval, now)

    def quote_age(self, quote: Quote, now: float | None = None) -> float | None:
        """Seconds since the worker last received this ticker's price, or None if it never said."""
        if quote.received_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - quote.received_at)

    def quote_live_until(self, quote: Quote) -> float | None:
        """When this ticker's price stops being live if no newer one comes (None: it never said when it came)."""
        return None if quote.received_at is None else quote.received_at + stale_after(self.interval)

    @property
    def tradable(self) -> bool:
        """Whether the source's prices are live quotes at all. A standing notice says they are not, only current
        for the source (Massive without snapshot access: the last session's closes): no order fills at them."""
        return self.notice is None

    def quote_is_live(self, quote: Quote, now: float | None = None) -> bool:
        """Whether this ticker's own price is live: not one its source has stopped sending (halted, delisted)."""
        return is_live(quote.received_at, self.interval, now)
