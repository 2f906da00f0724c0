"""What only the Redis store has: the writer's lease, and surviving a Redis restart (each test its own server)."""

import time

import pytest

from finally_site.tests.servers import RedisServer
from market.quotes import StoreUnavailable, WriterAlreadyRunning
from market.redis_store import LEASE_SECONDS, RedisPriceStore, redacted


@pytest.fixture
def server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def tick(store, prices, **extra):
    return store.publish(prices=prices, keep=set(prices), produced_at=time.time(), source="sim", interval=0.5, **extra)


def test_one_writer_at_a_time_and_a_clean_stop_frees_the_lease(server):
    first, second = RedisPriceStore(server.url), RedisPriceStore(server.url)
    first.claim_writer(owner={"pid": 1})
    with pytest.raises(WriterAlreadyRunning, match="only one may run"):
        second.claim_writer(owner={"pid": 2})
    time.sleep(LEASE_SECONDS + 1)  # renewed in the background: still held
    with pytest.raises(WriterAlreadyRunning, match='"pid": 1'):
        second.claim_writer(owner={"pid": 2})
    first.release_writer()
    second.claim_writer(owner={"pid": 2})
    second.release_writer()


def test_a_dead_writers_lease_lapses(server):
    dead, fresh = RedisPriceStore(server.url), RedisPriceStore(server.url)
    dead.claim_writer(owner={"pid": 1})
    dead._lease_stop.set()  # as if killed: no more renewals, no release
    with pytest.raises(WriterAlreadyRunning):
        fresh.claim_writer(owner={"pid": 2})
    time.sleep(LEASE_SECONDS + 0.5)
    fresh.claim_writer(owner={"pid": 2})
    fresh.release_writer()


def test_a_writer_whose_lease_was_taken_stops_writing(server):
    store = RedisPriceStore(server.url)
    store.claim_writer(owner={"pid": 1})
    store.redis.set(store.k_writer, "someone else")
    time.sleep(2.5)
    with pytest.raises(WriterAlreadyRunning, match="lost its lease"):
        tick(store, {"AAPL": 190.0})
    store.release_writer()
    assert store.redis.get(store.k_writer) == "someone else"  # not ours to delete


def test_restart_store_down_then_back_watcher_catches_up(server):
    store = RedisPriceStore(server.url)
    store.claim_writer(owner={"pid": 1})
    watcher = store.watch()
    try:
        tick(store, {"AAPL": 190.0}, open_prices={"AAPL": 185.0})
        tick(store, {"AAPL": 191.0})
        seen = [t for t in (watcher.next_tick(1.0) for _ in range(4)) if t]
        assert seen[-1].seq == 2
        server.stop()
        with pytest.raises(StoreUnavailable):
            tick(store, {"AAPL": 192.0})
        with pytest.raises(StoreUnavailable):
            store.status()
        with pytest.raises(StoreUnavailable):
            watcher.next_tick(0.5)
        server.start()  # same port, empty: no persistence
        assert tick(store, {"AAPL": 193.0}) == 3  # seq carries on, never repeats
        quote = store.latest("AAPL")
        # prev and open prices carried over the data loss from the writer's memory
        assert (quote.prev_price, quote.open_price, quote.direction) == (191.0, 185.0, "up")
        caught_up = [t for t in (watcher.next_tick(1.0) for _ in range(3)) if t]
        assert caught_up and caught_up[-1].seq == 3 and caught_up[-1].quotes[0].price == 193.0
        time.sleep(1.5)  # the lease thread took the lease back on the new server
        assert "token" in store.redis.get(store.k_writer)
    finally:
        watcher.close()
        store.release_writer()


def test_history_rolls_and_is_shared(server):
    store = RedisPriceStore(server.url, prefix="hist", history_seconds=10)
    start = 1_000_000.0
    for i in range(40):
        store.publish(prices={"AAPL": 100 + i}, keep={"AAPL"}, produced_at=start + i, source="t", interval=1)
    points = RedisPriceStore(server.url, prefix="hist").history("AAPL", since=0)
    assert points[-1] == (start + 39, 139.0)
    assert min(ts for ts, _ in points) >= start + 39 - 10 - 20


def test_a_ticker_no_longer_kept_is_dropped_with_its_history(server):
    store = RedisPriceStore(server.url, prefix="drop")
    tick(store, {"AAPL": 190.0, "MSFT": 420.0})
    store.publish(prices={"MSFT": 421.0}, keep={"MSFT"}, produced_at=time.time(), source="sim", interval=0.5)
    assert store.latest("AAPL") is None and store.history("AAPL", since=0) == []
    assert set(store.quotes()) == {"MSFT"} and [q.ticker for q in store.snapshot().quotes] == ["MSFT"]
    assert set(store.redis.scan_iter(match="drop:history:*")) == {"drop:history:MSFT"}


def test_password_never_in_names():
    assert redacted("redis://:s3cret@redis.internal:6380/2") == "redis://:***@redis.internal:6380/2"
    assert "s3cret" not in RedisPriceStore("redis://user:s3cret@h:1/0").name
