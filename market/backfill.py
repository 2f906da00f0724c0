"""A newly watched ticker's past, from a source that keeps one (issue 23): Massive's minute aggregates.

The simulator has no past: its history starts when a ticker is first priced, and the chart says so. With Massive,
the worker fills the minute bars of a ticker that has none (never priced here) with one aggregates call covering
what is kept (PRICE_BARS_DAYS). Calls share the plan's calls a minute with the polls: the source says how often one
fits (`backfill_every`; never, when the polls take them all), so a queue of new tickers is worked through one call
at a time (three tries for one whose call fails). Its bars are added where the worker has none, so a minute the
worker saw keeps its prices, and end before the minute in progress, which the worker is building.
"""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings

from market import bars, selectors
from market.sources import PriceSource, SourceUnavailable

logger = logging.getLogger(__name__)

TRIES = 3
# Tickers looked up in the database a tick (each an indexed EXISTS): a first tick with hundreds stays short.
LOOKUPS_PER_TICK = 50


class Backfill:
    def __init__(self, source: PriceSource) -> None:
        self._fetch = getattr(source, "minute_bars", None)
        self.every = source.backfill_every() if self._fetch else None
        if self._fetch and self.every is None:
            logger.warning(
                "%s: the polls take all of MASSIVE_CALLS_PER_MINUTE; a newly watched ticker's past is not fetched "
                "(its chart starts when it is first priced)", source.name,
            )
        self.seen: set[str] = set()  # tickers looked up: queued when they had no bars
        self.queue: list[str] = []
        self._tries: Counter[str] = Counter()
        self._next_at = 0.0

    @property
    def active(self) -> bool:
        return self._fetch is not None and self.every is not None

    def notice(self, tickers: set[str]) -> None:
        """Queue the tickers first priced now that have no bars. The worker asks before it saves the tick's bars:
        a price with an older trade time (a delayed plan, a quiet ticker) makes a bar of a minute that has ended,
        saved in the same tick, and the ticker would look as if it had a past."""
        if not self.active:
            return
        for ticker in sorted(tickers - self.seen)[:LOOKUPS_PER_TICK]:
            if not selectors.has_bars(ticker):
                self.queue.append(ticker)
            self.seen.add(ticker)

    def step(self, tickers: set[str], now: float) -> str | None:
        """`notice`, then at most one call, if one fits now; `tickers` are the ones priced (a queued ticker no
        longer among them is no longer wanted). Returns the ticker asked for. A database error propagates (the
        worker leaves the database alone until it is back)."""
        if not self.active:
            return None
        self.notice(tickers)
        gone = {t for t in self.queue if t not in tickers}
        if gone:  # no longer priced: no longer wanted, and looked up afresh if it comes back
            self.queue = [t for t in self.queue if t not in gone]
            self.seen -= gone
        if not self.queue or now < self._next_at:
            return None
        ticker = self.queue[0]
        self._next_at = now + self.every
        self._backfill(ticker, now)
        return ticker

    def _backfill(self, ticker: str, now: float) -> None:
        start = now - settings.PRICE_BARS_DAYS * 86400
        try:
            found = self._fetch(ticker, start, now)
        except SourceUnavailable as exc:
            self._tries[ticker] += 1
            logger.warning("could not fetch the past of %s (try %d of %d): %s", ticker, self._tries[ticker], TRIES, exc)
            if self._tries[ticker] >= TRIES:
                self.queue.remove(ticker)
            return
        minute = int(now // bars.MINUTE) * bars.MINUTE
        kept = [(ticker, bar) for bar in found if start <= bar.t < minute]
        bars.save(kept, merge=False)
        self.queue.remove(ticker)
        logger.info(
            "backfilled %s: %d minute bars from Massive (the minutes the worker saw kept its own)", ticker, len(kept)
        )
