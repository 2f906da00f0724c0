"""Minute bars (market.bars): ticks into minute bars, minute bars into each timeframe, what the worker writes and
keeps, and GET /api/bars/{ticker}."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from market import bars, selectors
from market.bars import Bar, BarBuilder
from market.models import PriceBar
from market.sources import Quotes, SimulatorSource
from market.worker import PriceWorker

pytestmark = pytest.mark.django_db

T0 = 1_796_000_400  # a minute's start (2026-11-30 00:20 UTC)


def at(minute: int, second: float = 0) -> float:
    return T0 + minute * 60 + second


# Each case: the ticks (minute, second, price) of one ticker, then the minute bars (minute, o, h, l, c).
TICK_CASES = [
    ("one tick is a flat bar", [(0, 5, 100.0)], [(0, 100.0, 100.0, 100.0, 100.0)]),
    ("ticks of one minute: first open, high, low, last close",
     [(0, 0, 100.0), (0, 10, 103.0), (0, 20, 98.5), (0, 59.9, 101.0)], [(0, 100.0, 103.0, 98.5, 101.0)]),
    ("a tick of the next minute ends the bar and opens the next",
     [(0, 1, 100.0), (0, 30, 101.0), (1, 0, 102.0), (1, 30, 99.0)],
     [(0, 100.0, 101.0, 100.0, 101.0), (1, 102.0, 102.0, 99.0, 99.0)]),
    ("minutes without a tick have no bar: a gap stays a gap",
     [(0, 1, 100.0), (4, 1, 104.0)], [(0, 100.0, 100.0, 100.0, 100.0), (4, 104.0, 104.0, 104.0, 104.0)]),
    ("a clock stepping back into an earlier minute is not written into it",
     [(2, 1, 100.0), (1, 59, 50.0), (2, 30, 101.0)], [(2, 100.0, 101.0, 100.0, 101.0)]),
]


@pytest.mark.parametrize(("name", "ticks", "expected"), TICK_CASES, ids=[c[0] for c in TICK_CASES])
def test_ticks_into_minute_bars(name, ticks, expected):
    builder = BarBuilder()
    for minute, second, price in ticks:
        builder.add({"AAPL": price}, at(minute, second))
    got = builder.done(at(60))
    assert [(b.t, b.o, b.h, b.l, b.c) for _, b in got] == [(at(m), o, h, lo, c) for m, o, h, lo, c in expected]
    assert builder.done(at(61)) == []  # each handed over once


def test_a_bar_is_done_only_once_its_minute_has_ended_and_all_takes_the_one_in_progress():
    builder = BarBuilder()
    builder.add({"AAPL": 100.0, "MSFT": 400.0}, at(0, 1))
    builder.add({"AAPL": 101.0}, at(1, 1))  # MSFT no longer priced: its bar ends with its minute all the same
    assert builder.done(at(1, 30)) == [("AAPL", Bar(at(0), 100.0, 100.0, 100.0, 100.0)),
                                        ("MSFT", Bar(at(0), 400.0, 400.0, 400.0, 400.0))]
    assert builder.all() == [("AAPL", Bar(at(1), 101.0, 101.0, 101.0, 101.0))]


def saved() -> list[tuple]:
    return [(int(b.minute.timestamp()), b.ticker, b.open, b.high, b.low, b.close)
            for b in PriceBar.objects.order_by("minute", "ticker")]


def test_a_minute_written_twice_merges_across_a_restart():
    """A worker stopping mid-minute writes the part it saw; the next one's part of the same minute merges with it."""
    first = BarBuilder()
    first.add({"AAPL": 100.0}, at(0, 1))
    first.add({"AAPL": 104.0}, at(0, 10))
    bars.save(first.all())
    second = BarBuilder()
    second.add({"AAPL": 99.0}, at(0, 40))
    second.add({"AAPL": 101.0}, at(0, 50))
    bars.save(second.all())
    bars.save([("AAPL", Bar(at(0), 101.0, 101.0, 101.0, 101.0))])  # and a write retried after a failure
    assert saved() == [(at(0), "AAPL", 100.0, 104.0, 99.0, 101.0)]


def minutes(*rows) -> list[Bar]:
    return [Bar(at(m), o, h, lo, c) for m, o, h, lo, c in rows]


ROLL_CASES = [
    ("1m is the minute bars themselves", "1m",
     minutes((0, 1, 2, 0.5, 1.5), (1, 1.5, 1.6, 1.4, 1.45)), minutes((0, 1, 2, 0.5, 1.5), (1, 1.5, 1.6, 1.4, 1.45))),
    ("5m: the bucket's first open, highest high, lowest low, last close", "5m",
     minutes((0, 10, 11, 9, 10.5), (1, 10.5, 12, 10, 11), (4, 11, 11.5, 8, 9), (5, 9, 9.5, 8.5, 9.2)),
     minutes((0, 10, 12, 8, 9), (5, 9, 9.5, 8.5, 9.2))),
    ("5m with a gap: an empty bucket has no bar", "5m",
     minutes((0, 10, 10, 10, 10), (12, 20, 21, 19, 20)), minutes((0, 10, 10, 10, 10), (10, 20, 21, 19, 20))),
    ("15m", "15m", minutes((0, 1, 1, 1, 1), (14, 2, 3, 0.5, 2.5), (15, 3, 3, 3, 3)),
     minutes((0, 1, 3, 0.5, 2.5), (15, 3, 3, 3, 3))),
]


@pytest.mark.parametrize(("name", "timeframe", "given", "expected"), ROLL_CASES, ids=[c[0] for c in ROLL_CASES])
def test_minute_bars_into_each_timeframe(name, timeframe, given, expected):
    assert bars.roll_up(given, timeframe) == expected


def utc(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def test_an_hour_starts_on_the_hour():
    got = bars.roll_up([Bar(utc(2026, 12, 1, 14, 59), 1, 1, 1, 1), Bar(utc(2026, 12, 1, 15, 0), 2, 2, 2, 2)], "1h")
    assert [b.t for b in got] == [utc(2026, 12, 1, 14), utc(2026, 12, 1, 15)]


@pytest.mark.parametrize(
    ("minute", "day_start"),
    [
        (utc(2026, 12, 1, 4, 59), utc(2026, 11, 30, 5)),  # 23:59 ET (EST, UTC-5) is the day before
        (utc(2026, 12, 1, 5, 0), utc(2026, 12, 1, 5)),  # midnight ET
        (utc(2026, 7, 1, 3, 59), utc(2026, 6, 30, 4)),  # summer: EDT, UTC-4
        (utc(2026, 7, 1, 4, 0), utc(2026, 7, 1, 4)),
        (utc(2026, 3, 8, 12, 0), utc(2026, 3, 8, 5)),  # the day clocks go forward starts on EST
        (utc(2026, 11, 1, 12, 0), utc(2026, 11, 1, 4)),  # the day they go back starts on EDT
    ],
)
def test_a_day_is_the_calendar_day_in_us_eastern_time(minute, day_start):
    assert bars.roll_up([Bar(minute, 1, 1, 1, 1)], "1d")[0].t == day_start


def test_the_api_builds_the_timeframe_from_saved_bars_and_the_minutes_not_written_yet(client, publish):
    now = time.time()
    this_minute = int(now // 60) * 60
    written = [("AAPL", Bar(this_minute - 120, 100, 102, 99, 101)), ("AAPL", Bar(this_minute - 60, 101, 103, 100, 102))]
    bars.save(written)
    publish({"AAPL": 104.5}, produced_at=this_minute + 0.5)  # in the store's tick history, not written as a bar yet
    body = client.get("/api/bars/aapl?timeframe=1m&limit=10").json()
    assert body["ticker"] == "AAPL" and body["timeframe"] == "1m"
    assert [(b["o"], b["h"], b["l"], b["c"]) for b in body["bars"]] == [
        (100, 102, 99, 101), (101, 103, 100, 102), (104.5, 104.5, 104.5, 104.5)
    ]
    assert body["bars"][0]["t"] == datetime.fromtimestamp(this_minute - 120, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert len(client.get("/api/bars/AAPL?timeframe=1m&limit=2").json()["bars"]) == 2  # the newest two
    assert client.get("/api/bars/PYPL").json()["bars"] == []  # never priced here: no invented past


@pytest.mark.parametrize(
    "query", ["timeframe=2m", "timeframe=", "limit=0", "limit=1001", "limit=x", "limit=1e3"],
)
def test_bad_queries_are_a_422_with_the_reason(client, query):
    response = client.get(f"/api/bars/AAPL?{query}")
    assert response.status_code == 422 and response.json()["error"]


def test_a_bad_ticker_is_refused(client):
    response = client.get("/api/bars/not a ticker")
    assert response.status_code in (400, 422) and "ticker" in response.text.lower()


def test_the_worker_writes_finished_minutes_and_the_one_in_progress_when_it_stops(price_store, monkeypatch):
    clock = [at(0, 1)]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    source = SimulatorSource(interval=0.01, seed=1)
    worker = PriceWorker(source=source, store=price_store, max_ticks=3)
    original = worker.tick

    def tick():
        delay = original()
        clock[0] += 40  # ticks 40 s apart: minute 0, minute 0 (at 41 s), minute 1 (at 81 s)
        return delay

    worker.tick = tick
    worker.run()
    rows = saved()
    assert {r[0] for r in rows} == {at(0), at(1)}  # minute 1 written as the worker stopped, part way through it
    priced = selectors.priced_tickers()
    assert {r[1] for r in rows} == priced and len(rows) == 2 * len(priced)  # a bar per ticker per minute


def test_end_of_day_closes_make_no_bars(price_store, monkeypatch):
    class EndOfDay:
        name, interval = "massive", 0.01

        def fetch(self, tickers):
            return Quotes(prices={t: 100.0 for t in tickers}, notice="end-of-day prices, not live quotes")

    PriceWorker(source=EndOfDay(), store=price_store, max_ticks=2).run()
    assert not PriceBar.objects.exists()


def test_a_database_error_keeps_the_bars_for_the_next_try(price_store, monkeypatch):
    from django.db import DatabaseError

    worker = PriceWorker(source=SimulatorSource(interval=0.01, seed=1), store=price_store)
    done = [("AAPL", Bar(at(0), 1, 1, 1, 1))]
    monkeypatch.setattr(bars, "save", lambda b: (_ for _ in ()).throw(DatabaseError("locked")))
    worker._save_bars(done)
    assert worker.bars.done(at(0)) == done


def test_bars_older_than_the_setting_are_pruned(settings):
    settings.PRICE_BARS_DAYS = 30
    now = time.time()
    old, kept = now - 31 * 86400, now - 29 * 86400
    bars.save([("AAPL", Bar(int(old // 60) * 60, 1, 1, 1, 1)), ("AAPL", Bar(int(kept // 60) * 60, 2, 2, 2, 2))])
    assert bars.prune() == 1
    assert [r[2] for r in saved()] == [2]
    assert PriceBar.objects.get().minute > datetime.now(UTC) - timedelta(days=30)


class ScriptedSource:
    """A source whose polls are scripted: each a (prices, times) pair; `times` as Massive's (source times)."""

    name, interval = "massive", 0.01

    def __init__(self, *polls):
        self.polls = list(polls)

    def fetch(self, tickers):
        prices, times = self.polls.pop(0)
        return Quotes(prices=prices, times=times)


def test_bars_hold_prices_as_quoted_not_the_sources_raw_floats(price_store, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: at(0, 5))
    worker = PriceWorker(source=ScriptedSource(({"AAPL": 190.06080875314566}, {})), store=price_store)
    worker.tick()
    assert worker.bars.all() == [("AAPL", Bar(at(0), 190.06, 190.06, 190.06, 190.06))]


def test_a_sources_repeated_trade_makes_no_bar_and_a_new_one_goes_to_its_own_minute(price_store, monkeypatch):
    """Massive repeats the last trade all night: only a trade time that moved on is a price of a minute, and of
    that trade's minute, not the poll's (a 15-minute delayed plan's trades are 15 minutes old)."""
    clock = [at(30, 1)]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    night = ({"AAPL": 190.0}, {"AAPL": at(0, 59)})
    moved = ({"AAPL": 191.0}, {"AAPL": at(14, 30)})
    worker = PriceWorker(source=ScriptedSource(night, night, night, moved), store=price_store)
    for minute in (30, 31, 32, 33):
        clock[0] = at(minute, 1)
        worker.tick()
    worker._save_last_bars()
    assert saved() == [(at(0), "AAPL", 190.0, 190.0, 190.0, 190.0), (at(14), "AAPL", 191.0, 191.0, 191.0, 191.0)]


def test_bars_waiting_for_the_database_are_capped_in_memory(monkeypatch):
    monkeypatch.setattr(bars, "MAX_PENDING", 5)
    builder = BarBuilder()
    for minute in range(20):
        builder.add({"AAPL": 100.0 + minute}, at(minute))
    pending = builder.done(at(20))
    # The newest five finished while the database was away, and the minute that has just ended.
    assert [b.t for _, b in pending] == [at(m) for m in range(14, 20)]


def test_a_backlog_is_written_a_batch_a_tick(price_store, monkeypatch):
    from market import worker as worker_module

    monkeypatch.setattr(worker_module, "SAVE_BATCH", 3)
    worker = PriceWorker(source=SimulatorSource(interval=0.01, seed=1), store=price_store)
    backlog = [("AAPL", Bar(at(m), 1, 1, 1, 1)) for m in range(7)]
    worker._save_bars(backlog)
    assert len(saved()) == 3
    worker._save_bars(worker.bars.done(at(60)))
    worker._save_bars(worker.bars.done(at(60)))
    assert [r[0] for r in saved()] == [at(m) for m in range(7)]


def sessions(days: list[tuple[int, int, int]], minutes_a_day: int = 390, start_hour_utc: int = 14) -> list[Bar]:
    """Minute bars of trading sessions with the nights between them empty (a real market's gaps), prices wandering."""
    out, price = [], 100.0
    for y, m, d in days:
        t0 = utc(y, m, d, start_hour_utc, 30)
        for i in range(minutes_a_day):
            o = price
            price = round(price + ((i * 7919 + d * 31) % 13 - 6) * 0.01, 2)
            out.append(Bar(t0 + 60 * i, o, max(o, price) + 0.05, min(o, price) - 0.05, price))
    return out


# Ten sessions around both changes of clocks, the nights empty.
SESSIONS = [(2026, 3, 5), (2026, 3, 6), (2026, 3, 9), (2026, 3, 10), (2026, 10, 29), (2026, 10, 30),
            (2026, 11, 2), (2026, 11, 3), (2026, 11, 4), (2026, 11, 5)]


@pytest.mark.parametrize("timeframe", list(bars.TIMEFRAMES))
@pytest.mark.parametrize("limit", [1, 7, 20, 1000])
def test_the_database_groups_as_roll_up_does_and_counts_bars_not_time(timeframe, limit):
    """market.bars.read groups in SQL; the Python roll-up of the same minutes is the rule it must match, with gaps
    (nights, weekends), the days the clocks change, and `limit` the number of bars (a review found 7 of 20)."""
    minutes = sessions(SESSIONS)
    bars.save([("MSFT", b) for b in minutes] + [("AAPL", Bar(b.t, 1, 1, 1, 1)) for b in minutes[:50]])
    expected = bars.roll_up([Bar(b.t, b.o, b.h, b.l, b.c) for b in minutes], timeframe)[-limit:]
    got, last_minute = bars.read("MSFT", timeframe, limit)
    assert bars.roll_up(got, timeframe)[-limit:] == expected
    assert last_minute == minutes[-1].t
    assert len(expected) == min(limit, len(bars.roll_up(minutes, timeframe)))


def test_read_of_a_ticker_with_no_bars_is_empty():
    assert bars.read("PYPL", "1h", 10) == ([], None)


@pytest.mark.parametrize("timeframe", ["5m", "15m", "1h"])
@pytest.mark.parametrize("limit", [3, 8])
def test_the_window_never_cuts_the_oldest_bucket(timeframe, limit, monkeypatch):
    """The first read covers the window `limit` buckets take without a gap. Two empty buckets inside it left exactly
    `limit` buckets, the oldest one cut by the window's start, so no second read was made (a review found opens
    off by a dollar)."""
    size = bars.TIMEFRAMES[timeframe]
    now = T0 + 10 * 3600 + 150  # inside a bucket of each size: the window's start is too
    monkeypatch.setattr(bars.time, "time", lambda: now)
    current = now - now % size
    empty = {current - size, current - 2 * size}
    minutes = [Bar(t, 100 + (t // 60) % 17, 101 + (t // 60) % 17, 99 + (t // 60) % 17, 100.5 + (t // 60) % 17)
               for t in range(current - (limit + 4) * size, now - 59, 60) if t - t % size not in empty]
    bars.save([("MSFT", b) for b in minutes])
    got, _ = bars.read("MSFT", timeframe, limit)
    assert bars.roll_up(got, timeframe) == bars.roll_up(minutes, timeframe)[-limit:]


def test_a_minute_made_twice_in_one_batch_is_one_row_merged():
    """A delayed feed's trades make a minute more than once; PostgreSQL refuses an upsert meeting a row twice."""
    bars.save([("AAPL", Bar(at(0), 100, 101, 99, 100.5)), ("AAPL", Bar(at(0), 100.5, 103, 100, 102)),
               ("AAPL", Bar(at(1), 102, 102, 102, 102))])
    assert saved() == [(at(0), "AAPL", 100, 103, 99, 102), (at(1), "AAPL", 102, 102, 102, 102)]
