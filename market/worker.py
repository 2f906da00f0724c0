"""The price worker: the single writer of prices.

Each tick it reads which tickers to price (the watchlist plus what other apps registered), steps the
source, writes the tick to the price store, rolls its live prices into minute bars (market.bars: the finished
minutes written about once a minute), and runs the periodic tasks that are due (the interval portfolio snapshot)
on a side thread, so a slow database write never delays a tick.

Prices come before the database: once a query fails, the ticks leave the database alone (pricing the last known
tickers, keeping the bars in memory, matching nothing) until a probe on the side thread reaches it again. Each query
to a database that is down waits out the connection pool's timeout, and three of those in a tick (seen in CI with
PostgreSQL restarting) leave the prices stale for all that time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection

from core import metrics
from market import bars, hooks, selectors
from market.backfill import Backfill
from market.quotes import StoreUnavailable, WriterAlreadyRunning, storable_price
from market.sources import PriceSource, SourceUnavailable
from market.store import PriceStore

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 120.0
# 2**16 intervals is already far past the cap; the exponent stops there so no failure count can overflow it.
MAX_BACKOFF_DOUBLINGS = 16
LAG_REPORT_SECONDS = 60.0
# The price store (Redis restarting) is retried sooner than a rate-limited source: it costs nobody a quota.
STORE_MAX_BACKOFF_SECONDS = 5.0


def _sane_price(price: object) -> bool:
    return storable_price(price) is not None


# Minute bars written a tick at most: a backlog of 100,000 (the database away for hours) goes over 20 ticks.
SAVE_BATCH = 5_000

# Between two probes of a database that is down: a refused connection fails at once, and the probe is no busy loop.
DATABASE_PROBE_SECONDS = 1.0


def database_reachable() -> bool:
    """One cheap query; run on the side thread while the ticks leave the database alone."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # whatever it is, the database is not usable yet; the tick reads the probe's result
        logger.debug("database probe failed", exc_info=True)
        time.sleep(DATABASE_PROBE_SECONDS)
        return False
    finally:
        connection.close()  # the side thread's own connection (back to the pool, if pooled): none is left open


# How often a sleeping worker looks at its stop flag: a stop is noticed within this, at negligible cost.
STOP_POLL_SECONDS = 0.1


def sleep_unless(stopped: Callable[[], bool], seconds: float) -> bool:
    """Sleep up to `seconds`, ending early once `stopped()`; says whether it was. Takes no lock, so a signal
    handler may set what `stopped` reads at any moment."""
    end = time.monotonic() + seconds
    while not stopped():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, STOP_POLL_SECONDS))
    return True


class PriceWorker:
    def __init__(self, *, source: PriceSource, store: PriceStore, max_ticks: int | None = None) -> None:
        self.source = source
        self.store = store
        self.max_ticks = max_ticks
        self.ticks = 0
        self.failures = 0
        self.store_failures = 0
        # A plain flag, not a threading.Event: stop() is called from signal handlers, and an Event's lock taken in
        # a handler that interrupted this same thread while it held that lock (inside Event.wait or a first
        # stop()) deadlocks the worker for good (seen with two SIGTERMs close together).
        self._stopping = False
        self._tickers: set[str] = set()
        self._tickers_known = False
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker-periodic")
        self._pending: dict[str, Future] = {}
        now = time.monotonic()
        self._due = {task.name: now + task.interval() for task in hooks.periodic_tasks}
        self._lags: list[float] = []
        self._last_report = now
        self.bars = bars.BarBuilder()
        self.backfill = Backfill(source)
        self._source_times: dict[str, float] = {}  # each ticker's last source time gone into a bar
        # Set while the database is down: the side thread's probe, which says when it is back.
        self._database_probe: Future | None = None

    def stop(self) -> None:
        """Ask the loop to end: safe from a signal handler (it only sets a flag)."""
        self._stopping = True

    def run(self) -> None:
        logger.info(
            "price worker started: source=%s interval=%.2fs store=%s",
            self.source.name, self.source.interval, self.store.name,
        )
        next_at = time.monotonic()
        try:
            while not self._stopping and (self.max_ticks is None or self.ticks < self.max_ticks):
                lag = max(0.0, time.monotonic() - next_at)
                self._lags.append(lag)
                if lag > self.source.interval:
                    logger.warning("tick %d started %.0f ms late", self.ticks + 1, lag * 1000)
                started = time.perf_counter()
                try:
                    delay = self.tick()
                except StoreUnavailable as exc:
                    delay = self._store_back_off(exc)
                except WriterAlreadyRunning:
                    raise  # another worker writes this store now: two would interleave their ticks
                except Exception as exc:
                    # Nothing one tick does (a malformed payload, a store error) may end the worker.
                    logger.exception("tick %d failed", self.ticks)
                    delay = self._back_off(f"unexpected error: {exc!r}")
                metrics.WORKER_TICK_SECONDS.observe(time.perf_counter() - started)
                self._run_due_tasks()
                self._report_lag()
                next_at += delay
                # Never try to catch up a burst of missed ticks: the market moves on from now.
                next_at = max(next_at, time.monotonic())
                sleep_unless(lambda: self._stopping, next_at - time.monotonic())
        finally:
            self._side.shutdown(wait=True)
            self._save_last_bars()
            logger.info("price worker stopped after %d ticks", self.ticks)

    def tick(self) -> float:
        """One step; returns how long to wait before the next one (longer while the source fails)."""
        self.ticks += 1
        tickers = self._priced_tickers()
        if tickers is None:
            # Publishing an empty set would drop every quote and its history from the store.
            return self._back_off("could not read which tickers to price from the database")
        now = time.time()
        try:
            quotes = self.source.fetch(sorted(tickers))
        except SourceUnavailable as exc:
            return self._back_off(str(exc))
        # One bad number from a source (NaN, a negative or absurd price, one that rounds to $0) drops that ticker,
        # not the tick: it would fail the whole write, or later make an order's arithmetic fail.
        insane = {t for t, p in {**quotes.prices, **quotes.open_prices}.items() if not _sane_price(p)}
        if insane:
            logger.warning("%s sent unusable prices for %s; skipping them this tick", self.source.name, sorted(insane))
            quotes.prices = {t: p for t, p in quotes.prices.items() if t not in insane}
            quotes.open_prices = {t: p for t, p in quotes.open_prices.items() if t not in insane}
        if self.failures:
            logger.info("%s recovered after %d failed polls", self.source.name, self.failures)
        self.failures = 0
        self.store.publish(
            prices=quotes.prices,
            keep=tickers,
            produced_at=now,
            source=self.source.name,
            interval=self.source.interval,
            open_prices=quotes.open_prices,
            unknown=quotes.unknown,
            source_times=quotes.times,
            notice=quotes.notice,
        )
        if self.store_failures:
            logger.info("price store %s is back after %d failed writes", self.store.name, self.store_failures)
            self.store_failures = 0
        if not quotes.notice:  # live prices only: end-of-day closes (Massive without snapshots) are not a minute's
            self._add_to_bars(quotes, now)
        if self.backfill.active and self.database_usable():
            # Before this tick's bars are saved: whether a ticker first priced now had a past here.
            self._backfill(lambda: self.backfill.notice(set(quotes.prices)))
        if self.database_usable():
            self._save_bars(self.bars.done(now))
        if self.database_usable():
            self._tell_listeners(set(quotes.prices))
        if self.backfill.active and self.database_usable():
            self._backfill(lambda: self.backfill.step(tickers, now))
        return self.source.interval

    def database_usable(self) -> bool:
        """False from a failed query until the side thread's probe reaches the database again."""
        probe = self._database_probe
        if probe is None:
            return True
        if not probe.done():
            return False
        if probe.result():
            logger.info("the database is reachable again")
            self._database_probe = None
            return True
        self._database_probe = self._side.submit(database_reachable)
        return False

    def _database_failed(self) -> None:
        metrics.DATABASE_ERRORS.inc()
        close_old_connections()
        if self._database_probe is None:
            logger.warning("the database is unreachable: pricing on without it until it is back")
            self._database_probe = self._side.submit(database_reachable)

    def _add_to_bars(self, quotes, now: float) -> None:
        """The tick's prices into the minute bars, as the store keeps them (rounded: a bar's high is a price that
        was quoted). A price with the source's own time (Massive) goes into that time's minute, and only when
        that time moved on: a snapshot repeating the last trade all night or through a halt makes no bars."""
        rounded = {t: storable_price(p) for t, p in quotes.prices.items()}
        if not quotes.times:
            self.bars.add(rounded, now)
            return
        seen, self._source_times = self._source_times, {}
        for ticker, price in rounded.items():
            at = quotes.times.get(ticker)
            if at is None:
                self.bars.add({ticker: price}, now)
                continue
            self._source_times[ticker] = max(at, seen.get(ticker, at))
            if ticker not in seen or at > seen[ticker]:
                self.bars.add({ticker: price}, min(at, now))

    def _save_bars(self, done: list) -> None:
        """Write the finished minute bars, at most SAVE_BATCH a tick (a backlog from a database that was away goes
        over the next ticks, none of them held long); on a database error keep them for the next tick's try."""
        if len(done) > SAVE_BATCH:
            self.bars.take_back(done[SAVE_BATCH:])
            done = done[:SAVE_BATCH]
        if not done:
            return
        try:
            bars.save(done)
        except DatabaseError:
            logger.warning("could not write %d minute bars; trying again next tick", len(done), exc_info=True)
            self.bars.take_back(done)
            self._database_failed()

    def _backfill(self, work: Callable[[], object]) -> None:
        """A newly watched ticker's past (market.backfill): its lookup, or its one call when one fits."""
        try:
            work()
        except DatabaseError:
            logger.warning("could not write a backfill's minute bars", exc_info=True)
            self._database_failed()

    def _save_last_bars(self) -> None:
        """On the way out, the minute in progress too: a restart within it merges with it."""
        if self._database_probe is not None and not self._database_probe.result():  # done: the side thread has ended
            logger.warning("the database is unreachable: %d minute bars not written", len(self.bars.all()))
            return
        try:
            bars.save(self.bars.all())
        except DatabaseError:
            logger.warning("could not write the last minute bars", exc_info=True)

    def _tell_listeners(self, tickers: set[str]) -> None:
        """After the tick is published: what other apps do at each tick (matching resting orders). A failure there
        is theirs, not the feed's: logged, and neither the tick nor the source is counted as failed."""
        for listener in hooks.tick_listeners:
            try:
                listener(tickers)
            except (OperationalError, InterfaceError):  # the database away; a listener's own error is below
                logger.warning(
                    "tick listener %s could not reach the database", getattr(listener, "__qualname__", listener),
                    exc_info=True,
                )
                self._database_failed()
                return
            except Exception:
                logger.exception("tick listener %s failed", getattr(listener, "__qualname__", listener))
                close_old_connections()

    def _store_back_off(self, exc: StoreUnavailable) -> float:
        self.store_failures += 1
        doublings = min(self.store_failures - 1, MAX_BACKOFF_DOUBLINGS)
        delay = min(self.source.interval * 2**doublings, max(STORE_MAX_BACKOFF_SECONDS, self.source.interval))
        logger.warning("could not write the tick (%d in a row), next try in %.1fs: %s", self.store_failures, delay, exc)
        return delay

    def backoff_delay(self) -> float:
        """The source's interval doubled per failure in a row, capped (at least one interval)."""
        doublings = min(self.failures, MAX_BACKOFF_DOUBLINGS)
        return min(self.source.interval * 2**doublings, max(MAX_BACKOFF_SECONDS, self.source.interval))

    def _back_off(self, error: str) -> float:
        self.failures += 1
        delay = self.backoff_delay()
        logger.warning(
            "%s poll failed (%d in a row), next try in %.1fs: %s", self.source.name, self.failures, delay, error
        )
        try:
            self.store.report_failure(
                source=self.source.name, interval=self.source.interval, error=error[:300], at=time.time()
            )
        except Exception:
            logger.exception("could not record the failure in the price store")
        return delay

    def _priced_tickers(self) -> set[str] | None:
        """The tickers to price; the last known set if the database cannot say, None if it never could."""
        if not self.database_usable():
            return self._tickers if self._tickers_known else None
        try:
            self._tickers = selectors.priced_tickers()
            self._tickers_known = True
        except DatabaseError as exc:
            # Keep pricing the last known set rather than skipping a tick.
            logger.warning("could not read the tickers to price, keeping %d: %s", len(self._tickers), exc)
            self._database_failed()
        return self._tickers if self._tickers_known else None

    def _run_due_tasks(self) -> None:
        now = time.monotonic()
        for task in hooks.periodic_tasks:
            pending = self._pending.get(task.name)
            if now < self._due.get(task.name, now) or (pending and not pending.done()):
                continue
            self._due[task.name] = now + task.interval()
            self._pending[task.name] = self._side.submit(self._run_task, task)

    @staticmethod
    def _run_task(task: hooks.PeriodicTask) -> None:
        try:
            task.func()
        except Exception:
            logger.exception("periodic task %s failed", task.name)
        finally:
            close_old_connections()

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_report < LAG_REPORT_SECONDS or not self._lags:
            return
        lags = sorted(self._lags)
        logger.info(
            "ticks=%d tick lag p50=%.1fms max=%.1fms priced=%d",
            self.ticks,
            lags[len(lags) // 2] * 1000,
            lags[-1] * 1000,
            len(self._tickers),
        )
        self._lags.clear()
        self._last_report = now
