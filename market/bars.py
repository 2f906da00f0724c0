"""Price history that lasts: OHLC minute bars, and every chart timeframe built from them (issue 23).

The price worker rolls each tick's live prices into one bar per ticker per minute (`BarBuilder`, in its memory)
and writes the minutes that have ended in one batched upsert (`save`), about once a minute. A restarted worker
meets a minute it had begun: the upsert merges the two parts (the first open, the highest high, the lowest low,
the latest close). Minutes without a tick have no bar: a gap stays a gap, nothing is invented. Bars older than
PRICE_BARS_DAYS are pruned by a periodic task. The rolling tick history of the price store stays for sparklines.

`roll_up` builds 5m, 15m, 1h and 1d bars from minute bars: buckets in UTC for the intraday ones, and the calendar
day in US Eastern time for 1d (the simulator's session, market.sessions; a real session sits inside it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from market.sessions import EASTERN

logger = logging.getLogger(__name__)

MINUTE = 60
TIMEFRAMES = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
MAX_BARS = 1000  # a request asks for at most this many bars
MAX_PENDING = 100_000  # unsaved minute bars the worker keeps while the database is away (100 tickers: 16 hours)


@dataclass
class Bar:
    """One bar: `t` its start (epoch seconds), then open, high, low, close."""

    t: int
    o: float
    h: float
    l: float  # noqa: E741  (the o/h/l/c names every chart library and broker API uses)
    c: float

    def take(self, price: float) -> None:
        self.h = max(self.h, price)
        self.l = min(self.l, price)
        self.c = price


class BarBuilder:
    """The worker's minutes in the making: one open bar per ticker; a bar is done once a tick of a later minute
    comes (or `done` is asked after its minute ended, for a ticker no longer priced)."""

    def __init__(self) -> None:
        self.open: dict[str, Bar] = {}
        self._done: list[tuple[str, Bar]] = []

    def add(self, prices: dict[str, float], at: float) -> None:
        minute = int(at // MINUTE) * MINUTE
        for ticker, price in prices.items():
            bar = self.open.get(ticker)
            if bar is not None and bar.t == minute:
                bar.take(price)
            elif bar is None or bar.t < minute:
                if bar is not None:
                    self._done.append((ticker, bar))
                    if len(self._done) > MAX_PENDING:  # the database away for hours: the oldest go
                        del self._done[0]
                self.open[ticker] = Bar(minute, price, price, price, price)
            # else: the clock stepped back into an earlier minute; that minute's bar is no place for this price

    def done(self, now: float) -> list[tuple[str, Bar]]:
        """The bars of the minutes that ended before `now`'s, each handed over once."""
        minute = int(now // MINUTE) * MINUTE
        for ticker, bar in list(self.open.items()):
            if bar.t < minute:
                self._done.append((ticker, bar))
                del self.open[ticker]
        done, self._done = self._done, []
        return done

    def take_back(self, bars: list[tuple[str, Bar]]) -> None:
        """Bars a write could not save: kept for the next one (a bar saved twice merges, it does not double); past
        MAX_PENDING (the database away for hours), the oldest go."""
        self._done[:0] = bars
        del self._done[:-MAX_PENDING]

    def all(self) -> list[tuple[str, Bar]]:
        """Every bar, the minute in progress too (the worker stopping): the next run's bars of that minute merge."""
        bars = self._done + list(self.open.items())
        self._done, self.open = [], {}
        return bars


def _as_datetime(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


# A minute saved twice (a restart within it, a retried write) merges: first open, highest high, lowest low, and the
# close of the later write.
_UPSERT = {
    "sqlite": "INSERT INTO price_bars (ticker, minute, open, high, low, close) VALUES {rows}"
              " ON CONFLICT (ticker, minute) DO UPDATE SET high = max(price_bars.high, excluded.high),"
              " low = min(price_bars.low, excluded.low), close = excluded.close",
    "postgresql": "INSERT INTO price_bars (ticker, minute, open, high, low, close) VALUES {rows}"
                  " ON CONFLICT (ticker, minute) DO UPDATE SET high = GREATEST(price_bars.high, excluded.high),"
                  " low = LEAST(price_bars.low, excluded.low), close = excluded.close",
}
# A backfilled minute (market.backfill) never overwrites one the worker saw: its own prices are what was shown.
_INSERT_MISSING = "INSERT INTO price_bars (ticker, minute, open, high, low, close) VALUES {rows}" \
                  " ON CONFLICT (ticker, minute) DO NOTHING"
ROWS_PER_STATEMENT = 500


def save(bars: Sequence[tuple[str, Bar]], *, merge: bool = True) -> None:
    """Write minute bars in one transaction (one statement per 500); `merge=False` adds only the missing ones."""
    if not bars:
        return
    sql = _UPSERT[connection.vendor] if merge else _INSERT_MISSING
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(bars), ROWS_PER_STATEMENT):
            chunk = bars[start:start + ROWS_PER_STATEMENT]
            params: list[object] = []
            for ticker, bar in chunk:
                params += [ticker, adapt(_as_datetime(bar.t)), bar.o, bar.h, bar.l, bar.c]
            cursor.execute(sql.format(rows=", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))), params)


def prune() -> int:
    """Drop the minute bars older than PRICE_BARS_DAYS; how many."""
    from market.models import PriceBar

    cutoff = timezone.now() - timedelta(days=settings.PRICE_BARS_DAYS)
    deleted, _ = PriceBar.objects.filter(minute__lt=cutoff).delete()
    if deleted:
        logger.info("pruned %d price bars older than %d days", deleted, settings.PRICE_BARS_DAYS)
    return deleted


def _day_start(t: int) -> int:
    day = datetime.fromtimestamp(t, EASTERN).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp())


def bucket(t: int, timeframe: str) -> int:
    """The start of the `timeframe` bar that the minute starting at `t` belongs to."""
    if timeframe == "1d":
        return _day_start(t)
    size = TIMEFRAMES[timeframe]
    return t - t % size


def roll_up(minutes: Iterable[Bar], timeframe: str) -> list[Bar]:
    """`timeframe` bars from minute bars in time order: a bucket's first open, highest high, lowest low, last
    close. A bucket with no minute bar has no bar."""
    out: list[Bar] = []
    for m in minutes:
        start = bucket(m.t, timeframe)
        if out and out[-1].t == start:
            last = out[-1]
            last.h = max(last.h, m.h)
            last.l = min(last.l, m.l)
            last.c = m.c
        else:
            out.append(Bar(start, m.o, m.h, m.l, m.c))
    return out


def since(timeframe: str, limit: int, now: float) -> float:
    """How far back the minute bars for `limit` bars of `timeframe` reach from `now` (a whole bucket more, so the
    oldest bar is complete; a day is one day more, for the change of clocks)."""
    size = TIMEFRAMES[timeframe]
    return now - (limit + 1) * size - (86400 if timeframe == "1d" else 0)
