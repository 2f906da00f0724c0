"""The values the price stores hold and the rules both follow (market/quotes.py)."""

import pytest

from market.quotes import FeedStatus, Quote, is_live, iso_utc, next_quote, next_quotes, round_quote, stale_after

T0 = 1_700_000_000.5  # 2023-11-14T22:13:20.500Z


def quote(price: float, open_price: float, prev_price: float | None = None) -> Quote:
    prev = price if prev_price is None else prev_price
    return Quote("AAPL", price, prev, open_price, iso_utc(T0 - 1), "flat", T0 - 1)


def test_quote_rounding():
    assert round_quote(191.23456) == 191.23
    assert round_quote(0.123456) == 0.1235
    assert iso_utc(0.25) == "1970-01-01T00:00:00.250Z"


@pytest.mark.parametrize(
    "previous, price, source_open, expected",
    [
        # (prev_price, open_price, direction)
        pytest.param(None, 190.0, None, (190.0, 190.0, "flat"), id="a first price is flat and opens the session"),
        pytest.param(None, 190.0, 185.0, (190.0, 185.0, "flat"), id="a first price with the source's open"),
        pytest.param(quote(190.0, 185.0), 190.5, None, (190.0, 185.0, "up"), id="up: the open is kept"),
        pytest.param(quote(190.0, 185.0), 189.5, None, (190.0, 185.0, "down"), id="down: the open is kept"),
        pytest.param(quote(190.0, 185.0, 189.0), 190.0, None, (190.0, 185.0, "flat"), id="unchanged: flat"),
        pytest.param(quote(190.0, 185.0), 191.0, 188.0, (190.0, 188.0, "up"), id="the source's open wins"),
        pytest.param(quote(190.0, 185.0), 191.0, 0.00004, (190.0, 185.0, "up"), id="an open that rounds to 0: kept"),
        pytest.param(None, 190.0, float("nan"), (190.0, 190.0, "flat"), id="no open from a glitch"),
        pytest.param(None, 190.0, True, (190.0, 190.0, "flat"), id="a bool is no open"),
        pytest.param(quote(190.0, 185.0), 191.0, 187.123456, (190.0, 187.12, "up"), id="the source's open rounded"),
    ],
)
def test_next_quote_moves_from_the_previous_one(previous, price, source_open, expected):
    q = next_quote(previous, "AAPL", price, produced_at=T0, source_open=source_open)
    assert (q.ticker, q.price) == ("AAPL", price)
    assert (q.prev_price, q.open_price, q.direction) == expected


@pytest.mark.parametrize(
    "source_time, timestamp",
    [
        pytest.param(None, "2023-11-14T22:13:20.500Z", id="no source time: the tick's"),
        pytest.param(T0 - 8 * 3600, "2023-11-14T14:13:20.500Z", id="the source's time, however old"),
    ],
)
def test_next_quote_is_stamped_by_the_source_and_received_at_the_tick(source_time, timestamp):
    q = next_quote(quote(190.0, 185.0), "AAPL", 191.0, produced_at=T0, source_time=source_time)
    assert q.timestamp == timestamp
    assert q.received_at == T0  # freshness is when the worker got it, never the source's trade time


def test_next_quote_stamps_each_tick_with_its_own_time():
    """The tick's stamp is formatted once per tick (cached): a later tick must not reuse an earlier one's."""
    first = next_quote(None, "AAPL", 190.0, produced_at=T0)
    second = next_quote(first, "AAPL", 190.0, produced_at=T0 + 1)
    assert (first.timestamp, second.timestamp) == (iso_utc(T0), iso_utc(T0 + 1))


def test_next_quotes_of_a_tick_skip_unkept_and_unpriced_tickers():
    previous = {"AAPL": quote(190.0, 185.0), "MSFT": quote(400.0, 399.0)}
    fresh = next_quotes(
        previous,
        {"AAPL": 191.0, "MSFT": None, "TSLA": 250.0, "GONE": 10.0},
        {"AAPL", "MSFT", "TSLA"},
        produced_at=T0,
        open_prices={"TSLA": 245.0},
    )
    # MSFT had no price this tick: it keeps its last quote, which is not written again (it ages); GONE is not kept.
    assert [(q.ticker, q.prev_price, q.open_price, q.direction) for q in fresh] == [
        ("AAPL", 190.0, 185.0, "up"),
        ("TSLA", 250.0, 245.0, "flat"),
    ]


@pytest.mark.parametrize(
    "interval, limit",
    [
        (None, 5.0),  # a store that never said its interval
        (0.05, 5.0),  # a fast simulator is held to the floor, not to 0.15 s
        (0.5, 5.0),
        (1.0, 5.0),
        (2.0, 6.0),
        (15.0, 45.0),  # Massive's default poll
    ],
)
def test_a_price_is_stale_after_three_source_intervals_and_never_before_5_s(interval, limit):
    assert stale_after(interval) == limit
    assert is_live(T0 - limit, interval, now=T0) and not is_live(T0 - limit - 0.01, interval, now=T0)


def test_no_time_is_never_live():
    assert not is_live(None, 0.5, now=T0)


def test_the_feed_and_each_quote_go_stale_by_the_same_rule():
    status = FeedStatus(source="sim", interval=2.0, last_tick_at=T0 - 6, heartbeat_at=T0, error=None, unknown=())
    assert status.is_fresh(now=T0) and not status.is_fresh(now=T0 + 0.1)
    received = quote(190.0, 185.0)  # received at T0 - 1
    assert status.quote_is_live(received, now=T0 + 5) and not status.quote_is_live(received, now=T0 + 5.1)
