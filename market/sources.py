"""Price sources behind one interface: the simulator (default) and Massive (Polygon.io) snapshots.

The worker asks a source for the prices of the tickers it must price; it never knows which source runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from market.simulator import PriceSimulator

logger = logging.getLogger(__name__)


@dataclass
class Quotes:
    """What one poll of a source produced."""

    prices: dict[str, float]
    # Session opening prices the source knows better than "first price we saw" (Massive's day.open).
    open_prices: dict[str, float] = field(default_factory=dict)
    # Tickers the source answered for but does not know: shown to the user as unknown.
    unknown: set[str] = field(default_factory=set)


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
        # Every ticker's last price and session open that this worker knows, starting from the store's (so a
        # restart does not snap prices back to the seeds) and kept for tickers that leave: one removed and
        # added again resumes where it was, not where it stood when the worker started.
        self._last = dict(start_prices or {})
        self._opens = dict(start_opens or {})

    def fetch(self, tickers: list[str]) -> Quotes:
        entering = [t for t in tickers if t not in self._priced]
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


class MassiveSource:
    """Polls the snapshot of every priced ticker in one `get_snapshot_all` call."""

    name = "massive"

    def __init__(self, *, api_key: str, interval: float = 15.0, base_url: str = "https://api.massive.com"):
        # Only the Massive path pays for the client's imports.
        import urllib3
        from massive import RESTClient
        from massive.exceptions import BadResponse

        self.failures = (BadResponse, urllib3.exceptions.HTTPError, OSError, ValueError)
        self.interval = interval
        # retries=0: urllib3 would otherwise sleep on Retry-After inside the worker; we back off ourselves.
        self.client = RESTClient(api_key=api_key, base=base_url, retries=0, connect_timeout=5.0, read_timeout=10.0)

    def fetch(self, tickers: list[str]) -> Quotes:
        if not tickers:
            return Quotes(prices={})
        try:
            snapshots = self.client.get_snapshot_all("stocks", tickers=list(tickers))
        except self.failures as exc:
            raise SourceUnavailable(_describe_failure(exc)) from exc
        if not snapshots:
            # An undecodable body or an empty snapshot (cleared overnight) says nothing about
            # which tickers exist: keep the last prices and report the feed as failing.
            raise SourceUnavailable("Massive returned no snapshot data")
        prices: dict[str, float] = {}
        opens: dict[str, float] = {}
        for snap in snapshots:
            price = _snapshot_price(snap)
            if snap.ticker and price:
                prices[snap.ticker] = price
                if snap.day and snap.day.open:
                    opens[snap.ticker] = float(snap.day.open)
        unknown = {t for t in tickers if t not in prices}
        return Quotes(prices=prices, open_prices=opens, unknown=unknown)


def _snapshot_price(snap) -> float | None:
    """The freshest price a snapshot carries; any block may be missing."""
    candidates = (
        snap.last_trade.price if snap.last_trade else None,
        snap.min.close if snap.min else None,
        snap.day.close if snap.day else None,
        snap.prev_day.close if snap.prev_day else None,
    )
    for value in candidates:
        if value:
            return float(value)
    return None


def _describe_failure(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the real cause
    text = str(reason or exc)
    return text[:300]


def make_source(
    *, settings, start_prices: dict[str, float] | None = None, start_opens: dict[str, float] | None = None
) -> PriceSource:
    """Massive when MASSIVE_API_KEY is set, the simulator otherwise."""
    if settings.MASSIVE_API_KEY:
        return MassiveSource(
            api_key=settings.MASSIVE_API_KEY,
            interval=settings.MASSIVE_POLL_SECONDS,
            base_url=settings.MASSIVE_BASE_URL,
        )
    return SimulatorSource(
        interval=settings.MARKET_TICK_SECONDS,
        seed=settings.SIMULATOR_SEED,
        start_prices=start_prices,
        start_opens=start_opens,
    )
