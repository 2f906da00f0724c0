"""A newly watched ticker's past from Massive's minute aggregates (market.backfill), against a local stub."""

from __future__ import annotations

import logging
import time

import pytest
from django.db import DatabaseError

from market import backfill as backfill_module
from market import bars, selectors
from market.backfill import Backfill
from market.bars import Bar
from market.models import PriceBar
from market.sources import MassiveSource, SimulatorSource
from market.tests.massive_stub import MassiveStub, aggs, answer, regular
from market.worker import PriceWorker

pytestmark = pytest.mark.django_db

NOW = 1_796_000_430.0  # 30 s into the minute that starts at 1_796_000_400
MINUTE = 1_796_000_400


@pytest.fixture
def stub():
    with MassiveStub() as server:
        yield server


def massive(stub: MassiveStub, *, interval: float = 15.0, calls: int = 5) -> MassiveSource:
    return MassiveSource(api_key="k", interval=interval, base_url=stub.base_url, calls_per_minute=calls)


def aggs_calls(stub: MassiveStub) -> list[str]:
    return [r["path"].split("/")[4] for r in stub.requests if r["path"].startswith("/v2/aggs/ticker/")]


def kept(ticker: str) -> list[tuple]:
    return list(PriceBar.objects.filter(ticker=ticker).order_by("minute").values_list("open", "high", "low", "close"))


def test_a_ticker_with_no_bars_gets_one_call_for_what_is_kept_before_the_minute_in_progress(stub, settings):
    settings.PRICE_BARS_DAYS = 2
    too_old = MINUTE - 2 * 86400 - 60
    stub.script_aggs((200, aggs("PYPL", (too_old, 1, 1, 1, 1), (MINUTE - 120, 60, 61, 59, 60.5),
                                (MINUTE - 60, 60.5, 61, 60, 60.8), (MINUTE, 60.8, 61, 60.8, 61))))
    fill = Backfill(massive(stub))
    assert fill.step({"PYPL"}, NOW) == "PYPL"
    # Not past what is kept, nor the minute in progress.
    assert kept("PYPL") == [(60, 61, 59, 60.5), (60.5, 61, 60, 60.8)]
    (path,) = [r["path"] for r in stub.requests]
    assert path == f"/v2/aggs/ticker/PYPL/range/1/minute/{int((NOW - 2 * 86400) * 1000)}/{int(NOW * 1000)}"
    assert fill.step({"PYPL"}, NOW + 3600) is None  # asked once
    assert len(stub.requests) == 1


def test_a_ticker_the_worker_has_bars_of_is_not_asked_for(stub):
    bars.save([("AAPL", Bar(MINUTE - 60, 190, 190, 190, 190))])
    fill = Backfill(massive(stub))
    assert fill.step({"AAPL"}, NOW) is None
    assert stub.requests == []


def test_calls_are_paced_by_what_the_polls_leave_of_the_plan(stub):
    stub.script_aggs((200, aggs("X")))
    fill = Backfill(massive(stub, interval=15.0, calls=5))  # 4 polls a minute: one call a minute is left
    assert fill.every == 60
    assert fill.step({"AMD", "PYPL", "UBER"}, NOW) == "AMD"
    assert fill.step({"AMD", "PYPL", "UBER"}, NOW + 59) is None
    assert fill.step({"AMD", "PYPL", "UBER"}, NOW + 60) == "PYPL"
    assert fill.step({"AMD", "PYPL", "UBER"}, NOW + 120) == "UBER"
    assert aggs_calls(stub) == ["AMD", "PYPL", "UBER"]


def test_when_the_polls_take_every_call_no_past_is_fetched_and_the_log_says_why(stub, caplog):
    with caplog.at_level(logging.WARNING, logger="market.backfill"):
        fill = Backfill(massive(stub, interval=12.0, calls=5))
    assert not fill.active and fill.step({"PYPL"}, NOW) is None and stub.requests == []
    assert "MASSIVE_CALLS_PER_MINUTE" in caplog.text


def test_the_simulator_has_no_past():
    fill = Backfill(SimulatorSource(interval=0.5, seed=1))
    assert not fill.active and fill.step({"PYPL"}, NOW) is None
    assert not PriceBar.objects.exists()


def test_a_failing_call_is_tried_three_times_in_all_at_the_pace(stub, caplog):
    stub.script_aggs((429, {"status": "ERROR", "error": "rate limited"}))
    fill = Backfill(massive(stub))
    for i in range(5):
        fill.step({"PYPL"}, NOW + 60 * i)
    assert aggs_calls(stub) == ["PYPL"] * 3
    assert "try 3 of 3" in caplog.text and not PriceBar.objects.exists()


def test_a_ticker_no_longer_priced_is_no_longer_wanted(stub):
    stub.script_aggs((200, aggs("X")))
    fill = Backfill(massive(stub))
    fill.step({"AMD", "PYPL"}, NOW)
    assert fill.step({"AMD"}, NOW + 60) is None  # PYPL was removed from the watchlist meanwhile
    assert aggs_calls(stub) == ["AMD"]
    assert fill.step({"AMD", "PYPL"}, NOW + 120) == "PYPL"  # watched again, still without a past: queued afresh


def test_a_minute_the_worker_saw_keeps_its_prices(stub):
    fill = Backfill(massive(stub))
    stub.script_aggs((200, aggs("PYPL", (MINUTE - 120, 1, 1, 1, 1), (MINUTE - 60, 2, 2, 2, 2))))
    fill.step({"AMD"}, NOW - 120)  # PYPL seen now with no bars; AMD's call takes the minute's slot
    fill.step({"AMD", "PYPL"}, NOW - 100)
    bars.save([("PYPL", Bar(MINUTE - 60, 60, 61, 59, 60.5))])  # the worker's own minute, saved meanwhile
    assert fill.step({"AMD", "PYPL"}, NOW) == "PYPL"
    assert kept("PYPL") == [(1, 1, 1, 1), (60, 61, 59, 60.5)]


def test_a_database_error_leaves_the_ticker_queued(stub, monkeypatch):
    stub.script_aggs((200, aggs("PYPL", (MINUTE - 60, 2, 2, 2, 2))))
    fill = Backfill(massive(stub))
    monkeypatch.setattr(backfill_module.bars, "save", lambda *a, **k: (_ for _ in ()).throw(DatabaseError("locked")))
    with pytest.raises(DatabaseError):
        fill.step({"PYPL"}, NOW)
    monkeypatch.undo()
    assert fill.step({"PYPL"}, NOW + 60) == "PYPL"
    assert kept("PYPL") == [(2, 2, 2, 2)]


def test_the_worker_backfills_a_newly_watched_ticker_after_its_tick(stub, price_store):
    now = time.time()
    minute = int(now // 60) * 60
    priced = sorted(selectors.priced_tickers())  # the seeded watchlist
    stub.script((200, answer(*(regular(t, 100.0, day_open=99.0, prev_close=98.0, at=now) for t in priced))))
    stub.script_aggs((200, aggs("X", (minute - 3600, 58, 59, 57, 58.5), (minute - 60, 59, 60, 58, 59.5))))
    bars.save([(priced[0], Bar(minute - 120, 190, 190, 190, 190))])  # the first has a past here already
    worker = PriceWorker(source=massive(stub, interval=15.0), store=price_store)
    worker.tick()
    assert aggs_calls(stub) == [priced[1]]  # one call a minute fits: the first ticker without bars
    assert kept(priced[1]) == [(58, 59, 57, 58.5), (59, 60, 58, 59.5)]
    assert worker.backfill.queue == priced[2:]  # the rest, one a minute


def test_a_ticker_whose_last_trade_is_minutes_old_is_still_backfilled(stub, price_store):
    """Its price goes into its trade's minute, which has ended: the worker saves that bar in the same tick. The
    ticker is looked up before that save, or it would look as if it had a past (a review found none backfilled)."""
    now = time.time()
    priced = sorted(selectors.priced_tickers())
    stub.script((200, answer(*(regular(t, 100.0, day_open=99.0, prev_close=98.0, at=now - 90) for t in priced))))
    stub.script_aggs((200, aggs("X", (int(now // 60) * 60 - 600, 58, 59, 57, 58.5))))
    worker = PriceWorker(source=massive(stub, interval=15.0), store=price_store)
    worker.tick()
    assert aggs_calls(stub) == [priced[0]]
    assert worker.backfill.queue == priced[1:]
    assert PriceBar.objects.filter(ticker=priced[0]).count() == 2  # the backfilled minute and the trade's own
