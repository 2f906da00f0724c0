"""The shared price store: the worker writes each tick, every web process reads it.

One interface (`PriceStore`), two implementations chosen by settings in `get_store()`: with `REDIS_URL` set,
Redis (redis_store.py: several web processes on several machines); otherwise the embedded store, a SQLite
file of its own (WAL), apart from the database that holds trades, so a tick never waits behind a trade's
write lock and readers never wait at all (sqlite_store.py). Either holds, per ticker, the latest quote and a
rolling history, plus a little status about the worker and its source. Nothing above this module knows which
one runs. What they hold (Quote, Tick, FeedStatus) and their errors are in quotes.py, which both stores
import instead of this module, so that neither store imports its factory back.
"""

from __future__ import annotations

import threading
from typing import Protocol

from market.quotes import FeedStatus, Quote, Tick
from market.sqlite_store import SQLitePriceStore


class PriceStore(Protocol):
    """What the worker, the hub and the engine use; `name` says which store (for logs and one hub per store)."""

    name: str
    kind: str
    # How long a dead worker's claim may outlive it (a starting worker waits that long before giving up).
    lease_seconds: float

    def publish(self, *, prices: dict[str, float], keep: set[str], produced_at: float, source: str, interval: float,
                open_prices: dict[str, float] | None = None, unknown: set[str] | None = None,
                source_times: dict[str, float] | None = None, notice: str | None = None) -> int: ...
    def report_failure(self, *, source: str, interval: float, error: str, at: float) -> None: ...
    def claim_writer(self, *, owner: dict) -> None: ...
    def release_writer(self) -> None: ...
    def clear(self) -> None: ...
    def latest(self, ticker: str) -> Quote | None: ...
    def quotes(self, tickers: list[str] | None = None) -> dict[str, Quote]: ...
    def snapshot(self) -> Tick: ...
    def history(self, ticker: str, since: float | None = None) -> list[tuple[float, float]]: ...
    def status(self) -> FeedStatus: ...
    def ping(self) -> None: ...
    def watch(self) -> TickWatcher: ...


class TickWatcher(Protocol):
    """One reader thread's view of new ticks (the hub's)."""

    def next_tick(self, timeout: float) -> Tick | None:
        """The store's latest tick if one arrived since the last call (waiting up to `timeout` s), else None."""

    def close(self) -> None: ...


_stores: dict[tuple[str, str], PriceStore] = {}
_stores_lock = threading.Lock()


def get_store() -> PriceStore:
    """The process's price store, as configured by settings (one per location, created on first use)."""
    from django.conf import settings

    redis_url = getattr(settings, "REDIS_URL", "")
    key = ("redis", f"{redis_url} {settings.REDIS_PREFIX}") if redis_url else ("sqlite", settings.PRICE_STORE_PATH)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if redis_url:
                from market.redis_store import RedisPriceStore  # redis is imported only where it is used

                store = RedisPriceStore(
                    redis_url, prefix=settings.REDIS_PREFIX, history_seconds=settings.PRICE_HISTORY_SECONDS
                )
            else:
                store = SQLitePriceStore(settings.PRICE_STORE_PATH, history_seconds=settings.PRICE_HISTORY_SECONDS)
            _stores[key] = store
        return store
