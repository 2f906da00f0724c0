"""The embedded price store's own behaviour: history pruning, old store files, its read cache, and two real
processes on one file. Its contract, shared with Redis, is tested in test_store.py."""

import subprocess
import sys
import textwrap
import time

from market.sqlite_store import SQLitePriceStore


def test_history_is_rolling(tmp_path):
    store = SQLitePriceStore(tmp_path / "p.db", history_seconds=10)
    start = 1_000_000.0
    for i in range(40):  # pruning runs every 20 ticks
        store.publish(prices={"AAPL": 100 + i}, keep={"AAPL"}, produced_at=start + i, source="t", interval=1)
    points = store.history("AAPL", since=0)
    assert points[-1] == (start + 39, 139.0)
    assert min(ts for ts, _ in points) >= start + 39 - 10 - 20


def test_a_store_file_from_before_received_at_gets_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE quote (ticker TEXT PRIMARY KEY, price REAL NOT NULL, prev_price REAL NOT NULL, "
            "open_price REAL NOT NULL, timestamp TEXT NOT NULL, direction TEXT NOT NULL);"
            "INSERT INTO quote VALUES ('AAPL', 190.0, 190.0, 190.0, '2026-01-01T00:00:00.000Z', 'flat');"
        )
    store = SQLitePriceStore(path)
    SQLitePriceStore(path)  # a second process opening it finds the column there
    old = store.latest("AAPL")
    assert old.price == 190.0 and old.received_at is None
    assert not store.status().quote_is_live(old)  # of unknown age: not filled at
    now = time.time()
    store.publish(prices={"AAPL": 191.0}, keep={"AAPL"}, produced_at=now, source="t", interval=0.5)
    assert store.latest("AAPL").received_at == now and store.status().quote_is_live(store.latest("AAPL"))


def test_reads_are_served_from_the_last_reading_until_another_connection_writes(tmp_path, monkeypatch):
    """The embedded store re-reads itself only after a write (PRAGMA data_version), and never misses one."""
    reads = []
    read_all = SQLitePriceStore._read_all
    monkeypatch.setattr(SQLitePriceStore, "_read_all", staticmethod(lambda conn: reads.append(1) or read_all(conn)))
    worker = SQLitePriceStore(tmp_path / "prices.db")
    web = SQLitePriceStore(tmp_path / "prices.db")

    def tick(price):
        worker.publish(prices={"AAPL": price}, keep={"AAPL"}, produced_at=time.time(), source="sim", interval=0.5)

    tick(190.0)
    assert web.latest("AAPL").price == 190.0 and web.status().is_fresh()
    assert web.quotes(["AAPL", "NOPE"]).keys() == {"AAPL"} and len(reads) == 1
    tick(191.0)
    assert web.quotes(["AAPL"])["AAPL"].price == 191.0 and len(reads) == 2
    worker.report_failure(source="sim", interval=0.5, error="source down", at=time.time())
    assert web.status().error == "source down" and len(reads) == 3
    worker.clear()
    assert web.quotes() == {} and web.status().last_tick_at is None and len(reads) == 4


def test_worker_process_writes_web_process_reads(tmp_path):
    """Two real processes: one publishes ticks, another reads them through its own connections."""
    path = tmp_path / "prices.db"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from market.sqlite_store import SQLitePriceStore
                store = SQLitePriceStore({str(path)!r})
                for i in range(1, 41):
                    store.publish(prices={{"AAPL": 100.0 + i}}, keep={{"AAPL"}}, produced_at=time.time(),
                                  source="sim", interval=0.05)
                    time.sleep(0.05)
                """
            ),
        ]
    )
    try:
        reader = SQLitePriceStore(path)
        seen = set()
        deadline = time.monotonic() + 20
        while writer.poll() is None and time.monotonic() < deadline:
            quote = reader.latest("AAPL")
            if quote:
                seen.add(quote.price)
            time.sleep(0.01)
        assert writer.wait(timeout=10) == 0
        assert reader.latest("AAPL").price == 140.0
        assert len(seen) > 10  # the reader saw the prices move while the writer ran
        assert len(reader.history("AAPL", since=0)) == 40
    finally:
        writer.kill()
