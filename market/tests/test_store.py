"""The price store's contract, on both implementations (embedded SQLite and Redis), as get_store() makes them."""

import time
import uuid

import pytest

from market.quotes import iso_utc
from market.store import get_store


@pytest.fixture(params=["sqlite", "redis"])
def price_store(request, settings, tmp_path):
    """Every test here runs on each store: nothing above the store may tell them apart."""
    settings.DB_THREADS = False
    settings.PRICE_STORE_PATH = str(tmp_path / "prices.db")
    settings.REDIS_URL = ""
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_server").url
        settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex}"
    return get_store()


class TestPublish:
    def test_first_quote_is_flat_and_opens_the_session(self, price_store, publish):
        publish({"AAPL": 190.004}, produced_at=1_700_000_000.5)
        quote = price_store.latest("AAPL")
        assert quote.as_dict() == {
            "ticker": "AAPL",
            "price": 190.0,
            "prev_price": 190.0,
            "open_price": 190.0,
            "timestamp": "2023-11-14T22:13:20.500Z",
            "direction": "flat",
        }

    def test_direction_and_prev_follow_each_tick(self, price_store, publish):
        publish({"AAPL": 190.0})
        publish({"AAPL": 190.5})
        up = price_store.latest("AAPL")
        assert (up.prev_price, up.price, up.direction, up.open_price) == (190.0, 190.5, "up", 190.0)
        publish({"AAPL": 189.0})
        down = price_store.latest("AAPL")
        assert (down.prev_price, down.direction, down.open_price) == (190.5, "down", 190.0)
        assert down.change_percent == pytest.approx((189.0 - 190.0) / 190.0 * 100)

    def test_an_unchanged_price_is_flat_so_the_ui_does_not_flash_it(self, price_store, publish):
        publish({"AAPL": 190.0})
        publish({"AAPL": 190.5})
        publish({"AAPL": 190.5004})  # moved less than the quote's precision: the same price
        quote = price_store.latest("AAPL")
        assert (quote.prev_price, quote.price, quote.direction) == (190.5, 190.5, "flat")

    def test_a_source_that_answers_is_fresh_even_when_nothing_moved(self, price_store, publish):
        """After the close every poll returns the same prices: the feed is still live, not stale."""
        for _ in range(3):
            publish({"AAPL": 190.0}, produced_at=time.time())
        assert price_store.status().is_fresh()
        publish({"AAPL": 190.0}, produced_at=time.time() - 60)
        assert not price_store.status().is_fresh()

    def test_a_price_that_rounds_to_zero_is_no_price(self, price_store, publish):
        """$0.00004 is positive but rounds to 0.0: a position valued at $0 that no order can be filled at."""
        publish({"AAPL": 190.0, "DUST": 0.00004})
        assert set(price_store.quotes()) == {"AAPL"}  # none yet
        publish({"AAPL": 190.0, "DUST": 0.5})
        publish({"AAPL": 190.0, "DUST": 0.00004, "ZERO": 0.0, "NEG": -1.0})
        assert price_store.latest("DUST").price == 0.5  # the last good quote stays
        assert set(price_store.quotes()) == {"AAPL", "DUST"}
        assert [q.price for q in price_store.snapshot().quotes] == [190.0, 0.5]
        publish({"AAPL": 190.0, "DUST": 0.00005})  # the smallest price that rounds up to a price
        assert price_store.latest("DUST").price == 0.0001

    def test_an_open_price_that_rounds_to_zero_is_not_the_change_base(self, price_store, publish):
        publish({"AAPL": 190.0}, open_prices={"AAPL": 0.00004})
        assert price_store.latest("AAPL").open_price == 190.0

    def test_source_open_price_wins(self, price_store, publish):
        publish({"AAPL": 191.5}, open_prices={"AAPL": 188.0})
        assert price_store.latest("AAPL").open_price == 188.0

    def test_tickers_not_kept_are_dropped_at_once_with_history(self, price_store, publish):
        publish({"AAPL": 190.0, "MSFT": 420.0})
        publish({"MSFT": 420.5}, keep={"MSFT"})
        assert price_store.latest("AAPL") is None
        assert price_store.history("AAPL", since=0) == []
        assert set(price_store.quotes()) == {"MSFT"}

    def test_kept_ticker_without_new_price_keeps_its_last_quote(self, price_store, publish):
        publish({"AAPL": 190.0, "MSFT": 420.0})
        publish({"MSFT": 421.0}, keep={"AAPL", "MSFT"})
        assert price_store.latest("AAPL").price == 190.0

    def test_a_ticker_the_source_sent_no_price_for_keeps_its_quote_and_history(self, price_store, publish):
        """Both stores alike (market.quotes.next_quotes): no new history point, no fresher received_at."""
        publish({"AAPL": 190.0}, produced_at=1000.0)
        first = price_store.latest("AAPL")
        publish({"AAPL": float("nan")}, keep={"AAPL"}, produced_at=1001.0)
        assert price_store.latest("AAPL") == first
        assert price_store.history("AAPL", since=0) == [(1000.0, 190.0)]

    def test_seq_and_snapshot_agree(self, price_store, publish):
        assert publish({"AAPL": 1.0}) == 1
        assert publish({"AAPL": 2.0, "V": 3.0}) == 2
        tick = price_store.snapshot()
        assert tick.seq == 2
        assert [q.ticker for q in tick.quotes] == ["AAPL", "V"]


class TestStatus:
    def test_fresh_after_a_tick_and_stale_later(self, price_store, publish):
        assert price_store.status().is_fresh() is False
        now = time.time()
        publish({"AAPL": 190.0}, produced_at=now)
        status = price_store.status()
        assert status.source == "test"
        assert status.is_fresh(now + 1)
        assert not status.is_fresh(now + 30)

    def test_failure_is_reported_and_prices_age(self, price_store, publish):
        publish({"AAPL": 190.0}, produced_at=100.0)
        price_store.report_failure(source="massive", interval=15, error="429 Too Many Requests", at=200.0)
        status = price_store.status()
        assert status.error == "429 Too Many Requests"
        assert status.last_tick_at == 100.0
        assert status.heartbeat_at == 200.0
        assert price_store.latest("AAPL").price == 190.0

    def test_unknown_tickers_are_listed(self, price_store, publish):
        publish({"AAPL": 190.0}, keep={"AAPL", "NOPE"}, unknown={"NOPE"})
        assert price_store.status().unknown == ("NOPE",)

    def test_quote_time_is_the_source_time_the_tick_the_poll_time(self, price_store, publish):
        publish({"AAPL": 190.0, "MSFT": 420.0}, produced_at=1_700_000_000.0, source_times={"AAPL": 1_699_990_000.0})
        assert price_store.latest("AAPL").timestamp == iso_utc(1_699_990_000.0)  # an old trade reads as old
        assert price_store.latest("MSFT").timestamp == iso_utc(1_700_000_000.0)  # no source time: the poll's
        assert price_store.status().last_tick_at == 1_700_000_000.0  # freshness stays the poll's
        assert price_store.history("AAPL", since=0) == [(1_700_000_000.0, 190.0)]

    def test_each_quote_ages_from_when_its_price_was_last_received(self, price_store, publish):
        """A ticker the source stops sending (halted, delisted) keeps its last quote, which goes stale by the
        same rule as the feed, while the feed and the tickers still sent stay live."""
        t0 = 1_700_000_000.0
        publish({"AAPL": 190.0, "MSFT": 420.0}, produced_at=t0)
        publish({"MSFT": 421.0}, keep={"AAPL", "MSFT"}, produced_at=t0 + 2)
        publish({"MSFT": 422.0}, keep={"AAPL", "MSFT"}, produced_at=t0 + 30)
        aapl, msft = price_store.latest("AAPL"), price_store.latest("MSFT")
        assert (aapl.price, aapl.received_at, msft.received_at) == (190.0, t0, t0 + 30)
        status = price_store.status()
        assert status.is_fresh(t0 + 30) and status.quote_is_live(msft, t0 + 30)
        assert status.quote_is_live(aapl, t0 + 2)  # a moment without it is no halt
        assert not status.quote_is_live(aapl, t0 + 30) and status.quote_age(aapl, t0 + 30) == 30.0
        assert "received_at" not in aapl.as_dict()  # not part of the quote the API and the stream show

    def test_the_source_trade_time_does_not_make_a_quote_stale(self, price_store, publish):
        """At night Massive's price is hours-old trade, and still the current price: received now, it is live."""
        now = time.time()
        publish({"AAPL": 190.0}, produced_at=now, source_times={"AAPL": now - 8 * 3600})
        assert price_store.status().quote_is_live(price_store.latest("AAPL"))

    def test_a_tick_says_which_quotes_were_live_when_it_was_made(self, price_store, publish):
        t0 = time.time()
        watcher = price_store.watch()
        try:
            watcher.next_tick(2)  # Redis: subscribed (its catch-up snapshot); the embedded store: what it holds
            publish({"AAPL": 190.0, "MSFT": 420.0}, produced_at=t0 - 30)
            publish({"MSFT": 421.0}, keep={"AAPL", "MSFT"}, produced_at=t0)
            ticks, deadline = [], time.monotonic() + 10
            while not ticks or ticks[-1].seq < 2:
                assert time.monotonic() < deadline
                ticks += [t for t in [watcher.next_tick(1)] if t is not None]
        finally:
            watcher.close()
        for tick in (ticks[-1], price_store.snapshot()):  # as published, and as read back
            assert tick.interval == 0.5
            assert {q.ticker: tick.is_live(q) for q in tick.quotes} == {"AAPL": False, "MSFT": True}

    def test_source_notice_is_kept_until_the_next_tick(self, price_store, publish):
        publish({"AAPL": 190.0}, notice="end-of-day prices")
        price_store.report_failure(source="massive", interval=15, error="HTTP 429", at=time.time())
        assert price_store.status().notice == "end-of-day prices"
        publish({"AAPL": 190.0})
        assert price_store.status().notice is None


def test_a_watcher_sees_each_new_tick(price_store, publish):
    watcher = price_store.watch()
    try:
        first = watcher.next_tick(1.0)  # the state when it starts watching (nothing yet: seq 0)
        assert first is None or first.seq == 0
        assert watcher.next_tick(0.1) is None
        publish({"AAPL": 190.0})
        tick = watcher.next_tick(2.0)
        assert tick.seq == 1 and [q.price for q in tick.quotes] == [190.0]
        assert watcher.next_tick(0.1) is None
        publish({"AAPL": 191.0, "V": 280.0})
        tick = watcher.next_tick(2.0)
        assert tick.seq == 2 and [(q.ticker, q.price, q.direction) for q in tick.quotes] == [
            ("AAPL", 191.0, "up"), ("V", 280.0, "flat")
        ]
    finally:
        watcher.close()
