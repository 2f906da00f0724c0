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
import time
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


def _one_per_minute(bars: Sequence[tuple[str, Bar]]) -> list[tuple[str, Bar]]:
    """The bars of one (ticker, minute) merged, in order (first open, highest high, lowest low, last close): a
    delayed feed's trades make a minute more than once, and PostgreSQL refuses an upsert that meets a row twice."""
    merged: dict[tuple[str, int], Bar] = {}
    for ticker, bar in bars:
        known = merged.get((ticker, bar.t))
        if known is None:
            merged[(ticker, bar.t)] = Bar(bar.t, bar.o, bar.h, bar.l, bar.c)
        else:
            known.h, known.l, known.c = max(known.h, bar.h), min(known.l, bar.l), bar.c
    return [(ticker, bar) for (ticker, _), bar in merged.items()]


def save(bars: Sequence[tuple[str, Bar]], *, merge: bool = True) -> None:
    """Write minute bars in one transaction (one statement per 500); `merge=False` adds only the missing ones."""
    bars = _one_per_minute(bars)
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
    """How far back `limit` bars of `timeframe` reach from `now` without a gap (a whole bucket more, so the oldest
    bar is complete; a day is one day more, for the change of clocks)."""
    size = TIMEFRAMES[timeframe]
    return now - (limit + 1) * size - (86400 if timeframe == "1d" else 0)


# A minute's start in epoch seconds, in each database's words (SQLite keeps the UTC time as text).
_EPOCH = {
    "sqlite": "CAST(strftime('%%s', minute) AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM minute) AS BIGINT)",
}
HOURS_IN_A_DAY = 25  # the day the clocks go back


def read(ticker: str, timeframe: str, limit: int) -> tuple[list[Bar], int | None]:
    """The newest `limit` bars of `timeframe` kept for `ticker`, oldest first, and the start of the last minute
    they hold. Counted in bars, not in time: gaps (nights, a worker stopped) do not shorten the answer.

    The database groups the minutes (a bucket's highest high and lowest low, and its first and last minute, whose
    open and close are read through the primary key), so a month of minutes is never read into Python; a day is
    grouped by the hour here and the hours rolled up to US Eastern days by `roll_up` (an Eastern midnight is
    always a UTC hour's start)."""
    epoch = _EPOCH[connection.vendor]
    with connection.cursor() as cursor:
        if timeframe == "1m":
            cursor.execute(f"SELECT {epoch}, open, high, low, close, {epoch} FROM price_bars WHERE ticker = %s"
                           " ORDER BY minute DESC LIMIT %s", [ticker, limit])
            rows = cursor.fetchall()
        else:
            size = 3600 if timeframe == "1d" else TIMEFRAMES[timeframe]
            groups = limit * HOURS_IN_A_DAY if timeframe == "1d" else limit
            last = epoch.replace("minute", "g.last_m")
            sql = (
                f"WITH g AS (SELECT {epoch} / {size} * {size} AS b, MIN(minute) AS first_m, MAX(minute) AS last_m,"
                " MAX(high) AS h, MIN(low) AS l FROM price_bars WHERE ticker = %s AND minute >= %s"
                " GROUP BY b ORDER BY b DESC LIMIT %s)"
                " SELECT g.b, o.open, g.h, g.l, c.close, " + last + " FROM g"
                " JOIN price_bars o ON o.ticker = %s AND o.minute = g.first_m"
                " JOIN price_bars c ON c.ticker = %s AND c.minute = g.last_m ORDER BY g.b DESC"
            )
            # The window `limit` buckets take without a gap first (what a 24-hour feed needs: it reads no more
            # minutes than it groups); if gaps left it short, everything kept.
            start = int(since(timeframe, limit, time.time()))
            start -= start % size  # on a bucket's start: the oldest bucket read is whole, never cut by the window
            window = connection.ops.adapt_datetimefield_value(_as_datetime(start))
            cursor.execute(sql, [ticker, window, groups, ticker, ticker])
            rows = cursor.fetchall()
            if len(rows) < groups:
                cursor.execute("SELECT 1 FROM price_bars WHERE ticker = %s AND minute < %s LIMIT 1", [ticker, window])
                if cursor.fetchone():
                    cursor.execute(sql, [ticker, connection.ops.adapt_datetimefield_value(_as_datetime(0)), groups,
                                         ticker, ticker])
                    rows = cursor.fetchall()
    if not rows:
        return [], None
    found = [Bar(int(t), o, h, low, c) for t, o, h, low, c, _ in reversed(rows)]
    return found, max(int(r[5]) for r in rows)
