"""The embedded price store: a SQLite file of its own (WAL), apart from the database that holds trades, so a
tick never waits behind a trade's write lock and readers never wait at all. The default when no REDIS_URL is
set; market.store.get_store() chooses it.
"""

from __future__ import annotations

import fcntl
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from market.quotes import (
    PRUNE_EVERY_TICKS,
    FeedStatus,
    LastPrice,
    Quote,
    StoreUnavailable,
    Tick,
    WriterAlreadyRunning,
    next_quotes,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS quote (
    ticker TEXT PRIMARY KEY,
    price REAL NOT NULL,
    prev_price REAL NOT NULL,
    open_price REAL NOT NULL,
    timestamp TEXT NOT NULL,
    direction TEXT NOT NULL,
    received_at REAL
);
CREATE TABLE IF NOT EXISTS history (
    ticker TEXT NOT NULL,
    ts REAL NOT NULL,
    price REAL NOT NULL,
    PRIMARY KEY (ticker, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

QUOTE_COLUMNS = "ticker, price, prev_price, open_price, timestamp, direction, received_at"  # Quote's fields

# How often the hub's thread looks at the embedded store's change counter (a local file: nearly free).
POLL_SECONDS = 0.01


class SQLitePriceStore:
    kind = "sqlite"
    lease_seconds = 0.0  # the kernel drops a dead worker's file lock at once

    def __init__(self, path: str | Path, *, history_seconds: float = 1800.0) -> None:
        self.path = str(path)
        self.name = self.path
        self.history_seconds = history_seconds
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._writer: sqlite3.Connection | None = None
        self._writer_lock = threading.Lock()
        self._writer_claim = None
        # The last reading of the whole store (status and every quote) and the data_version it was read at.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._reading: tuple[int, FeedStatus, dict[str, Quote]] | None = None
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(quote)")}
            if "received_at" not in columns:  # a store file from before quotes kept it
                try:
                    conn.execute("ALTER TABLE quote ADD COLUMN received_at REAL")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process added it a moment ago
                        raise

    # --- connections ---------------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        # check_same_thread=False: pooled connections move between request threads, one at a time.
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self.connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            self._pool.put(conn)

    # --- writer side: the price worker only ------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the writer's long-lived connection."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = self.connect()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def publish(
        self,
        *,
        prices: dict[str, float],
        keep: set[str],
        produced_at: float,
        source: str,
        interval: float,
        open_prices: dict[str, float] | None = None,
        unknown: set[str] | None = None,
        source_times: dict[str, float] | None = None,
        notice: str | None = None,
    ) -> int:
        """Write one tick: new quotes for `prices`, and drop every ticker not in `keep`; returns its seq.

        A quote's timestamp is when the source says its price was made (`source_times`, epoch seconds), else
        `produced_at`; the tick itself (history, freshness) is always `produced_at`, and so is the `received_at`
        of each quote in `prices` (a kept ticker without a new price keeps its quote, and that quote ages).
        """
        with self._write() as conn:
            # Only what the update rule reads: building whole Quotes cost a tick at 100 tickers about 0.3 ms.
            previous = {t: LastPrice(p, o) for t, p, o in conn.execute("SELECT ticker, price, open_price FROM quote")}
            gone = [t for t in previous if t not in keep]
            if gone:
                marks = ",".join("?" * len(gone))
                conn.execute(f"DELETE FROM quote WHERE ticker IN ({marks})", gone)
                conn.execute(f"DELETE FROM history WHERE ticker IN ({marks})", gone)
            fresh = next_quotes(
                previous, prices, keep, produced_at=produced_at, source_times=source_times, open_prices=open_prices
            )
            conn.executemany(
                f"INSERT OR REPLACE INTO quote ({QUOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (q.ticker, q.price, q.prev_price, q.open_price, q.timestamp, q.direction, q.received_at)
                    for q in fresh
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO history VALUES (?, ?, ?)", [(q.ticker, produced_at, q.price) for q in fresh]
            )
            seq = self._read_seq(conn) + 1
            self._write_meta(
                conn,
                seq=seq,
                last_tick_at=produced_at,
                heartbeat_at=produced_at,
                source=source,
                interval=interval,
                error=None,
                unknown=sorted((unknown or set()) & keep),
                notice=notice,
            )
            if seq % PRUNE_EVERY_TICKS == 0:
                cutoff = produced_at - self.history_seconds
                conn.executemany(
                    "DELETE FROM history WHERE ticker = ? AND ts < ?", [(t, cutoff) for t in keep]
                )
        return seq

    def claim_writer(self, *, owner: dict) -> None:
        """Become this store's only writer for the life of the process, or raise WriterAlreadyRunning.

        An exclusive flock on `<store>.lock`: the kernel drops it when the process ends however it ends, so a
        crashed worker never leaves a stale lock behind. `owner` (pid, database, ...) is written into the file
        so the refusal can name the worker that holds it.
        """
        lock_path = self.path + ".lock"
        handle = open(lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise WriterAlreadyRunning(
                f"another price worker is already writing to {self.path} ({holder}); only one may run per price "
                "store. Stop it first, or give this instance a price store of its own (PRICE_STORE_PATH)."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(", ".join(f"{key} {value}" for key, value in owner.items()))
        handle.flush()
        self._writer_claim = handle  # held open: closing it would release the lock

    def release_writer(self) -> None:
        if self._writer_claim is not None:
            self._writer_claim.close()
            self._writer_claim = None

    def report_failure(self, *, source: str, interval: float, error: str, at: float) -> None:
        """The worker is alive but its source failed: say so, and leave the last prices (and their age) alone."""
        with self._write() as conn:
            self._write_meta(conn, heartbeat_at=at, source=source, interval=interval, error=error)

    def clear(self) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM quote")
            conn.execute("DELETE FROM history")
            conn.execute("DELETE FROM meta")

    @staticmethod
    def _read_seq(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _write_meta(conn: sqlite3.Connection, **values) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(key, json.dumps(value)) for key, value in values.items()]
        )

    # --- reader side -----------------------------------------------------------------------------

    def latest(self, ticker: str) -> Quote | None:
        _, every = self._current()
        return every.get(ticker)

    def quotes(self, tickers: list[str] | None = None) -> dict[str, Quote]:
        _, every = self._current()
        if tickers is None:
            return dict(every)
        return {ticker: every[ticker] for ticker in sorted(set(tickers)) if ticker in every}

    def snapshot(self, conn: sqlite3.Connection | None = None) -> Tick:
        """All quotes and the tick they belong to, read in one transaction so they agree."""
        if conn is None:
            with self._connection() as pooled:
                return self.snapshot(pooled)
        conn.execute("BEGIN")
        try:
            meta = dict(
                conn.execute("SELECT key, value FROM meta WHERE key IN ('seq', 'last_tick_at', 'interval')").fetchall()
            )
            rows = conn.execute(f"SELECT {QUOTE_COLUMNS} FROM quote ORDER BY ticker").fetchall()
        finally:
            conn.execute("COMMIT")
        return Tick(
            seq=json.loads(meta.get("seq", "0")),
            produced_at=json.loads(meta.get("last_tick_at", "0")),
            quotes=tuple(Quote(*row) for row in rows),
            interval=json.loads(meta.get("interval", "null")),
        )

    def history(self, ticker: str, since: float | None = None) -> list[tuple[float, float]]:
        since = time.time() - self.history_seconds if since is None else since
        with self._connection() as conn:
            return conn.execute(
                "SELECT ts, price FROM history WHERE ticker = ? AND ts >= ? ORDER BY ts", (ticker, since)
            ).fetchall()

    def status(self) -> FeedStatus:
        status, _ = self._current()
        return status

    def _current(self) -> tuple[FeedStatus, dict[str, Quote]]:
        """The feed's status and every quote, as of the store's last write.

        Read again only when another connection has written since the last reading, which SQLite's
        `PRAGMA data_version` tells in a few microseconds. Ticks come a few times a second, orders and page
        reads far more often, so most reads cost that check instead of two queries and a JSON decode of the
        status (bench/README.md). What it returns is what the store holds at the moment of the call.
        """
        with self._reader_lock:
            try:
                if self._reader is None:
                    self._reader = self.connect()
                version = self._reader.execute("PRAGMA data_version").fetchone()[0]
                if self._reading is None or self._reading[0] != version:
                    # The version is taken before the data: a write landing in between is read now and, its
                    # version being newer, read once more next time; never the other way round.
                    self._reading = (version, *self._read_all(self._reader))
            except sqlite3.Error:
                self._reading = None
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
                raise
            return self._reading[1], self._reading[2]

    @staticmethod
    def _read_all(conn: sqlite3.Connection) -> tuple[FeedStatus, dict[str, Quote]]:
        conn.execute("BEGIN")  # one read transaction: the status and the quotes agree
        try:
            meta = {key: json.loads(value) for key, value in conn.execute("SELECT key, value FROM meta")}
            rows = conn.execute(f"SELECT {QUOTE_COLUMNS} FROM quote ORDER BY ticker").fetchall()
        finally:
            conn.execute("COMMIT")
        status = FeedStatus(
            source=meta.get("source"),
            interval=meta.get("interval"),
            last_tick_at=meta.get("last_tick_at"),
            heartbeat_at=meta.get("heartbeat_at"),
            error=meta.get("error"),
            unknown=tuple(meta.get("unknown") or ()),
            notice=meta.get("notice"),
        )
        return status, {row[0]: Quote(*row) for row in rows}

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers (for /api/health)."""
        try:
            with self._connection() as conn:
                conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"price store {self.path}: {exc}") from exc

    def watch(self) -> StoreWatcher:
        """A cheap change detector for one reader thread (the hub)."""
        return StoreWatcher(self)


class StoreWatcher:
    """Tells one thread whether anyone wrote to the store since it last looked, via PRAGMA data_version."""

    def __init__(self, store: SQLitePriceStore) -> None:
        self.store = store
        self.conn = store.connect()
        self._version: int | None = None

    def changed(self) -> bool:
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        changed = version != self._version
        self._version = version
        return changed

    def snapshot(self) -> Tick:
        return self.store.snapshot(self.conn)

    def next_tick(self, timeout: float) -> Tick | None:
        """Poll the change counter every POLL_SECONDS for up to `timeout`; a write means a new snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            if self.changed():
                return self.snapshot()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(POLL_SECONDS, remaining))

    def close(self) -> None:
        self.conn.close()
