"""Price sources: the simulator source, and Massive against a local stub of its endpoints (issue 11)."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from market.quotes import iso_utc
from market.simulator import PriceSimulator
from market.sources import (
    FULL_MARKET_ABOVE,
    MIN_POLL_SECONDS,
    MassiveSource,
    SimulatorSource,
    SourceUnavailable,
    make_source,
)
from market.sqlite_store import SQLitePriceStore
from market.tests.massive_stub import (
    NOT_ENTITLED,
    PREVIOUS_CLOSE,
    MassiveStub,
    after_reset,
    aggs,
    all_zero,
    answer,
    et,
    grouped,
    premarket,
    regular,
    starter,
)

# The clock the fixtures live in: Tuesday 2026-11-24 (Monday 2026-11-23 is the session before).
TUESDAY_MORNING = et(2026, 11, 24, 3, 45)
TUESDAY_CLOSE = et(2026, 11, 24, 16, 0)


@pytest.fixture
def stub():
    with MassiveStub() as server:
        yield server


def massive(stub: MassiveStub, *, key: str = "test-key", now: float = TUESDAY_CLOSE, **kwargs) -> MassiveSource:
    return MassiveSource(api_key=key, interval=1.0, base_url=stub.base_url, clock=lambda: now, **kwargs)


def store_for(tmp_path) -> SQLitePriceStore:
    return SQLitePriceStore(tmp_path / "prices.db")


def publish(store: SQLitePriceStore, quotes, tickers, at: float) -> None:
    """What the worker does with one poll."""
    store.publish(
        prices=quotes.prices, keep=set(tickers), produced_at=at, source="massive", interval=1.0,
        open_prices=quotes.open_prices, unknown=quotes.unknown, source_times=quotes.times, notice=quotes.notice,
    )


class TestRealShape:
    def test_one_snapshot_call_for_all_tickers_otc_included(self, stub):
        at = et(2026, 11, 24, 15, 59, 30)
        stub.script((200, answer(
            regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=at),
            regular("MSFT", 421.25, day_open=420.0, prev_close=418.0, at=at),
        )))
        quotes = massive(stub).fetch(["AAPL", "MSFT"])
        assert quotes.prices == {"AAPL": 191.5, "MSFT": 421.25}
        assert quotes.open_prices == {"AAPL": 190.0, "MSFT": 420.0}  # the day's open once the market opened
        assert quotes.times == {"AAPL": pytest.approx(at), "MSFT": pytest.approx(at)}  # lastTrade.t, ns
        assert quotes.unknown == set() and quotes.notice is None
        assert len(stub.requests) == 1
        request = stub.requests[0]
        assert request["path"] == "/v2/snapshot/locale/us/markets/stocks/tickers"
        assert request["query"]["tickers"] == ["AAPL,MSFT"]
        assert request["query"]["include_otc"] == ["true"]  # OTC and ADR tickers are priced
        assert request["auth"] == "Bearer test-key"

    def test_otc_ticker_is_priced(self, stub):
        stub.script((200, answer(regular("TCEHY", 58.1, day_open=57.9, prev_close=57.5, at=TUESDAY_CLOSE))))
        assert massive(stub).fetch(["TCEHY"]).prices == {"TCEHY": 58.1}

    def test_premarket_base_is_the_previous_close_and_time_the_trade(self, stub):
        at = et(2026, 11, 24, 8, 12, 5)
        stub.script((200, answer(premarket("AAPL", 193.0, prev_close=190.0, at=at))))
        quotes = massive(stub, now=at + 30).fetch(["AAPL"])
        assert quotes.prices == {"AAPL": 193.0}
        assert quotes.open_prices == {"AAPL": 190.0}  # day.o is zero before the open
        assert quotes.times["AAPL"] == pytest.approx(at)

    def test_after_the_reset_price_and_base_are_the_previous_close(self, stub):
        stub.script((200, answer(after_reset("AAPL", prev_close=190.0, prev_open=186.0))))
        quotes = massive(stub, now=TUESDAY_MORNING).fetch(["AAPL"])
        assert quotes.prices == {"AAPL": 190.0}
        assert quotes.open_prices == {"AAPL": 190.0}  # 0 %, not yesterday's move from its open
        assert quotes.times["AAPL"] == pytest.approx(PREVIOUS_CLOSE)  # as of Monday 16:00 ET, not "now"

    def test_starter_plan_has_no_last_trade(self, stub):
        delayed = et(2026, 11, 24, 11, 45)  # a 12:00 ET poll sees 11:45
        stub.script((200, answer(starter("AAPL", 192.4, day_open=191.0, prev_close=190.0, at=delayed))))
        quotes = massive(stub, now=et(2026, 11, 24, 12, 0)).fetch(["AAPL"])
        assert quotes.prices == {"AAPL": 192.4}  # min.c
        assert quotes.open_prices == {"AAPL": 191.0}
        assert quotes.times["AAPL"] == pytest.approx(delayed)  # `updated`: the 15-minute delay shows

    def test_a_ticker_with_every_field_zero_is_unknown(self, stub):
        aapl = regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=TUESDAY_CLOSE)
        stub.script((200, answer(all_zero("NEWCO"), aapl)))
        quotes = massive(stub).fetch(["AAPL", "NEWCO"])
        assert "NEWCO" not in quotes.prices and "NEWCO" not in quotes.open_prices
        assert quotes.unknown == {"NEWCO"}

    def test_tickers_massive_does_not_know_are_reported_unknown(self, stub):
        stub.script((200, answer(regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=TUESDAY_CLOSE))))
        assert massive(stub).fetch(["AAPL", "NOPEX"]).unknown == {"NOPEX"}

    def test_null_blocks_and_garbage_entries_do_not_break_a_poll(self, stub):
        nulls = regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=TUESDAY_CLOSE)
        nulls |= {"min": None, "lastQuote": None}
        garbage = regular("MSFT", 1.0, day_open=1.0, prev_close=1.0, at=TUESDAY_CLOSE)
        garbage |= {"lastTrade": {"p": "n/a", "t": "x"}}
        stub.script((200, answer(nulls, garbage, "NOT-A-SNAPSHOT")))
        quotes = massive(stub).fetch(["AAPL", "MSFT"])
        assert quotes.prices == {"AAPL": 191.5} and quotes.unknown == {"MSFT"}

    def test_a_ticker_not_asked_for_is_ignored(self, stub):
        stub.script((200, answer(regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=TUESDAY_CLOSE),
                                 regular("ZZZ", 1.0, day_open=1.0, prev_close=1.0, at=TUESDAY_CLOSE))))
        assert set(massive(stub).fetch(["AAPL"]).prices) == {"AAPL"}


class TestChangeBase:
    """Through the store, as the user sees it: change % against the open, or the previous close before it."""

    def test_the_reset_replaces_a_stale_open(self, stub, tmp_path):
        store, source = store_for(tmp_path), massive(stub)
        stub.script((200, answer(regular("AAPL", 200.0, day_open=180.0, prev_close=179.0, at=PREVIOUS_CLOSE))))
        publish(store, source.fetch(["AAPL"]), ["AAPL"], PREVIOUS_CLOSE + 60)
        assert store.latest("AAPL").open_price == 180.0
        stub.script((200, answer(after_reset("AAPL", prev_close=200.0, prev_open=180.0))))
        source.clock = lambda: TUESDAY_MORNING
        publish(store, source.fetch(["AAPL"]), ["AAPL"], TUESDAY_MORNING)
        quote = store.latest("AAPL")
        assert (quote.price, quote.open_price, quote.change_percent) == (200.0, 200.0, 0.0)
        assert quote.timestamp == iso_utc(PREVIOUS_CLOSE)

    def test_added_premarket_then_the_open(self, stub, tmp_path):
        store, source = store_for(tmp_path), massive(stub)
        early = et(2026, 11, 24, 7, 0)
        stub.script((200, answer(premarket("AAPL", 195.0, prev_close=190.0, at=early))))
        publish(store, source.fetch(["AAPL"]), ["AAPL"], early + 5)
        quote = store.latest("AAPL")
        assert quote.open_price == 190.0 and quote.change_percent == pytest.approx(2.6316, abs=1e-4)
        assert quote.timestamp == iso_utc(early)
        opened = et(2026, 11, 24, 9, 31)
        stub.script((200, answer(regular("AAPL", 196.0, day_open=195.5, prev_close=190.0, at=opened))))
        publish(store, source.fetch(["AAPL"]), ["AAPL"], opened + 5)
        # The same base as a ticker watched all night: the day's open, not the first pre-market trade.
        assert store.latest("AAPL").open_price == 195.5


class TestEmptyAnswer:
    def test_empty_tickers_marks_them_unknown(self, stub):
        stub.script((200, answer()))
        quotes = massive(stub).fetch(["AAPL", "MSFT"])
        assert quotes.prices == {} and quotes.unknown == {"AAPL", "MSFT"}

    def test_empty_tickers_keeps_what_was_priced(self, stub):
        source = massive(stub)
        stub.script((200, answer(regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=TUESDAY_CLOSE))))
        source.fetch(["AAPL"])
        stub.script((200, answer()))
        quotes = source.fetch(["AAPL", "MSFT"])
        assert quotes.prices == {} and quotes.unknown == {"MSFT"}  # AAPL keeps its last quote

    @pytest.mark.django_db
    def test_worker_does_not_back_off_on_an_empty_answer(self, stub, price_store):
        from market.worker import PriceWorker

        stub.script((200, answer()))
        source = massive(stub)
        worker = PriceWorker(source=source, store=price_store)
        assert worker.tick() == source.interval and worker.failures == 0
        status = price_store.status()
        assert status.error is None and "AAPL" in status.unknown

    def test_unreadable_body_is_a_failure(self, stub):
        stub.script((200, {"status": "OK", "request_id": "x", "count": 3}))
        with pytest.raises(SourceUnavailable, match="unreadable"):
            massive(stub).fetch(["AAPL"])


class TestPlanWithoutSnapshots:
    def test_403_falls_back_to_grouped_daily_closes(self, stub, caplog):
        stub.script((403, NOT_ENTITLED))
        stub.script_grouped((200, grouped("2026-11-23", ("AAPL", 188.0, 190.0), ("MSFT", 415.0, 418.0), ("IBM", 1, 2))))
        source = massive(stub, now=et(2026, 11, 24, 11, 0))
        with caplog.at_level(logging.WARNING, logger="market.sources"):
            first = source.fetch(["AAPL", "MSFT", "NOPEX"])
            second = source.fetch(["AAPL", "MSFT", "NOPEX"])
        for quotes in (first, second):
            assert quotes.prices == {"AAPL": 190.0, "MSFT": 418.0}
            assert quotes.open_prices == {"AAPL": 188.0, "MSFT": 415.0}
            assert quotes.times["AAPL"] == pytest.approx(PREVIOUS_CLOSE)  # as of Monday 16:00 ET
            assert quotes.unknown == {"NOPEX"}
            assert "no snapshot access" in quotes.notice and "end-of-day" in quotes.notice
        paths = [r["path"] for r in stub.requests]
        assert paths == [
            "/v2/snapshot/locale/us/markets/stocks/tickers",
            "/v2/aggs/grouped/locale/us/market/stocks/2026-11-23",
            "/v2/aggs/grouped/locale/us/market/stocks/2026-11-23",  # one call per poll from then on
        ]
        assert stub.requests[1]["query"]["include_otc"] == ["true"]
        said = [r for r in caplog.records if "no snapshot access" in r.getMessage()]
        assert len(said) == 1  # said once

    def test_a_holiday_steps_back_a_session(self, stub):
        stub.script((403, NOT_ENTITLED))
        stub.script_grouped((200, grouped("2026-11-23")), (200, grouped("2026-11-20", ("AAPL", 187.0, 189.0))))
        source = massive(stub, now=et(2026, 11, 24, 11, 0))
        holiday = source.fetch(["AAPL"])
        assert holiday.prices == {} and holiday.unknown == set()  # no bars says nothing about AAPL
        assert source.fetch(["AAPL"]).prices == {"AAPL": 189.0}
        assert stub.requests[-1]["path"].endswith("/2026-11-20")  # Friday, over the weekend

    @pytest.mark.django_db
    def test_health_says_so(self, stub, price_store, client):
        from market.worker import PriceWorker

        stub.script((403, NOT_ENTITLED))
        stub.script_grouped((200, grouped("2026-11-23", ("AAPL", 188.0, 190.0))))
        PriceWorker(source=massive(stub, now=et(2026, 11, 24, 11, 0)), store=price_store).tick()
        prices = client.get("/api/health").json()["prices"]
        assert "no snapshot access" in prices["notice"] and prices["error"] is None
        assert price_store.latest("AAPL").timestamp == iso_utc(PREVIOUS_CLOSE)

    def test_other_errors_do_not_switch_to_end_of_day(self, stub):
        stub.script((401, {"status": "ERROR", "request_id": "x", "error": "Unknown API Key"}))
        source = massive(stub)
        with pytest.raises(SourceUnavailable):
            source.fetch(["AAPL"])
        assert not source.end_of_day and len(stub.requests) == 1


class TestLargeWatchlists:
    def test_a_thousand_tickers_take_the_full_market_in_one_call(self, stub):
        tickers = [f"T{i:04d}" for i in range(1000)]
        market = [
            regular(t, 10.0 + i / 100, day_open=10.0, prev_close=9.9, at=TUESDAY_CLOSE) for i, t in enumerate(tickers)
        ]
        market += [regular("OTHER", 5.0, day_open=5.0, prev_close=5.0, at=TUESDAY_CLOSE)]
        stub.script((200, answer(*market)))
        quotes = massive(stub).fetch(tickers)
        assert len(stub.requests) == 1
        assert "tickers" not in stub.requests[0]["query"]  # the whole market, filtered here
        assert stub.requests[0]["url_length"] < 200
        assert set(quotes.prices) == set(tickers) and quotes.unknown == set()

    def test_up_to_the_threshold_the_tickers_are_named(self, stub):
        tickers = [f"T{i:04d}" for i in range(FULL_MARKET_ABOVE)]
        massive(stub).fetch(tickers)
        assert stub.requests[0]["query"]["tickers"] == [",".join(tickers)]
        assert stub.requests[0]["url_length"] < 8000


class TestFailures:
    @pytest.mark.parametrize(
        "status, body, says",
        [
            (429, {"status": "ERROR", "request_id": "x", "error": "Too many requests per minute"}, "HTTP 429"),
            (500, {"status": "ERROR", "request_id": "x"}, "HTTP 500"),
            (401, {"status": "ERROR", "request_id": "x", "error": "Unknown API Key"}, "HTTP 401 from Massive: ERROR"),
            (502, "<html>Bad Gateway</html>", "HTTP 502"),
            (200, "not json", "HTTP 200"),
        ],
    )
    def test_failures_raise_source_unavailable_after_one_attempt(self, stub, status, body, says):
        stub.script((status, body))
        with pytest.raises(SourceUnavailable) as raised:
            massive(stub).fetch(["AAPL"])
        assert says in str(raised.value)
        assert len(stub.requests) == 1  # no retries inside the worker's tick: we back off ourselves

    def test_network_failure_raises_source_unavailable(self):
        source = MassiveSource(api_key="k", interval=1.0, base_url="http://127.0.0.1:9")  # discard port: refused
        with pytest.raises(SourceUnavailable):
            source.fetch(["AAPL"])

    def test_no_tickers_no_call(self, stub):
        assert massive(stub).fetch([]).prices == {}
        assert stub.requests == []


class TestSecretsAndSettings:
    BAD_KEYS = ["abc\x07def", "abc def", "abc\ndef", "k\u00e9y"]

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_a_malformed_key_is_refused_at_start_without_repeating_it(self, stub, key, caplog):
        with caplog.at_level(logging.DEBUG), pytest.raises(ImproperlyConfigured) as refused:
            massive(stub, key=key)
        assert "MASSIVE_API_KEY" in str(refused.value)
        for text in [str(refused.value), caplog.text]:
            assert key not in text and repr(key)[1:-1] not in text and "def" not in text
        assert stub.requests == []

    @pytest.mark.django_db
    def test_the_worker_refuses_a_key_with_a_control_character(self, stub, settings, price_store, caplog, capsys):
        settings.MASSIVE_API_KEY = "sekrit\x01key"
        settings.MASSIVE_BASE_URL = stub.base_url
        with caplog.at_level(logging.DEBUG), pytest.raises(CommandError, match="MASSIVE_API_KEY is malformed"):
            call_command("price_worker", max_ticks=1)
        out = capsys.readouterr()
        for text in [caplog.text, out.out, out.err, str(price_store.status())]:
            assert "sekrit" not in text
        assert stub.requests == []

    def test_an_error_echoing_the_key_is_redacted(self, stub):
        stub.script((400, {"status": "ERROR", "request_id": "x", "error": "bad key test-key"}))
        with pytest.raises(SourceUnavailable) as raised:
            massive(stub).fetch(["AAPL"])
        assert "test-key" not in str(raised.value) and "HTTP 400" in str(raised.value)

    def test_base_url_with_a_trailing_slash(self, stub):
        stub.script((200, answer(regular("AAPL", 191.5, day_open=190.0, prev_close=189.0, at=TUESDAY_CLOSE))))
        source = MassiveSource(api_key="test-key", base_url=stub.base_url + "/")
        assert source.fetch(["AAPL"]).prices == {"AAPL": 191.5}
        assert stub.requests[0]["path"] == "/v2/snapshot/locale/us/markets/stocks/tickers"

    def test_poll_interval_has_a_floor(self, settings):
        settings.MASSIVE_API_KEY = "abc"
        settings.MASSIVE_POLL_SECONDS = 0.01
        assert make_source(settings=settings).interval == MIN_POLL_SECONDS

    def test_the_package_logs_once_through_our_handlers(self, stub, caplog, capsys):
        massive(stub)
        package_logger = logging.getLogger("RESTClient")
        assert package_logger.handlers == [] and package_logger.propagate
        with caplog.at_level(logging.INFO, logger="RESTClient"):
            package_logger.warning("one line")
        assert [r.getMessage() for r in caplog.records] == ["one line"]
        assert "one line" not in capsys.readouterr().out  # not a second copy from the package's own handler


class TestMinuteBars:
    """The aggregates call behind a newly watched ticker's past (market.backfill)."""

    def test_one_call_for_the_range_in_minutes_oldest_first(self, stub):
        start, end = et(2026, 11, 23, 9, 30), et(2026, 11, 24, 16, 0)
        stub.script_aggs(
            (200, aggs("AAPL", (start, 190.0, 190.5, 189.9, 190.2), (start + 60, 190.2, 190.3, 190.1, 190.3)))
        )
        found = massive(stub).minute_bars("AAPL", start, end)
        assert [(b.t, b.o, b.h, b.l, b.c) for b in found] == [
            (int(start), 190.0, 190.5, 189.9, 190.2), (int(start) + 60, 190.2, 190.3, 190.1, 190.3),
        ]
        (request,) = stub.requests
        assert request["path"] == f"/v2/aggs/ticker/AAPL/range/1/minute/{int(start * 1000)}/{int(end * 1000)}"
        assert request["query"] == {"adjusted": ["true"], "sort": ["desc"], "limit": ["50000"]}
        assert request["auth"] == "Bearer test-key"

    def test_no_results_is_no_bars(self, stub):
        stub.script_aggs((200, aggs("ZZZZ")))
        assert massive(stub).minute_bars("ZZZZ", 0, 60) == []

    @pytest.mark.parametrize("entry", [
        {"t": 1_764_000_030_000, "o": 1, "h": 1, "l": 1, "c": 1},  # not a whole minute
        {"t": 1_764_000_000_000, "o": 1, "h": 0.5, "l": 0.4, "c": 1},  # a high under its open and close
        {"t": 1_764_000_000_000, "o": 1, "h": 2, "l": 1.5, "c": 1.8},  # a low over its open
        {"t": 1_764_000_000_000, "o": -1, "h": 2, "l": -1, "c": 1},  # a negative price
        {"t": 1_764_000_000_000, "o": "1", "h": 2, "l": 1, "c": 1},  # a string
        {"t": 1_764_000_000_000, "o": float("nan"), "h": 2, "l": 1, "c": 1},
        {"t": True, "o": 1, "h": 1, "l": 1, "c": 1},
        {"t": -60_000, "o": 1, "h": 1, "l": 1, "c": 1},
        {"o": 1, "h": 1, "l": 1, "c": 1},  # no time
        {"t": 1_764_000_000_000, "o": 1, "h": 1, "l": 1},  # no close
        "garbage",
    ])
    def test_a_bar_that_is_no_sane_minute_is_a_gap(self, stub, entry):
        good = {"t": 1_764_000_060_000, "o": 2, "h": 2, "l": 2, "c": 2}
        stub.script_aggs((200, {"status": "OK", "resultsCount": 2, "results": [entry, good]}))
        assert [b.t for b in massive(stub).minute_bars("AAPL", 0, 2e9)] == [1_764_000_060]

    def test_newest_first_comes_back_oldest_first_and_a_minute_twice_once(self, stub):
        t = 1_764_000_000
        newest_first = aggs("AAPL", (t + 120, 4, 4, 4, 4), (t + 60, 1, 1, 1, 1), (t, 2, 2, 2, 2), (t + 60, 3, 3, 3, 3))
        stub.script_aggs((200, newest_first))
        assert [(b.t, b.c) for b in massive(stub).minute_bars("AAPL", 0, 2e9)] == [(t, 2), (t + 60, 1), (t + 120, 4)]

    @pytest.mark.parametrize("status, body", [(429, {"status": "ERROR"}), (403, NOT_ENTITLED), (200, "[]"),
                                              (200, {"status": "ERROR", "results": []}),
                                              (200, {"status": "OK", "results": 5})])
    def test_failures_raise_source_unavailable(self, stub, status, body):
        stub.script_aggs((status, body))
        with pytest.raises(SourceUnavailable):
            massive(stub).minute_bars("AAPL", 0, 60)

    @pytest.mark.parametrize("calls, interval, every", [(5, 15, 60), (5, 12, None), (5, 20, 30), (5, 2, None),
                                                        (100, 2, 60 / 70), (5, 60, 15)])
    def test_history_calls_take_what_the_polls_leave_of_the_plans_calls(self, stub, calls, interval, every):
        source = MassiveSource(api_key="k", interval=interval, base_url=stub.base_url, calls_per_minute=calls)
        assert source.backfill_every() == (pytest.approx(every) if every else None)

    def test_the_setting_reaches_the_source(self, settings):
        settings.MASSIVE_API_KEY, settings.MASSIVE_CALLS_PER_MINUTE = "abc", 100
        assert make_source(settings=settings).calls_per_minute == 100


class TestChoice:
    def test_simulator_without_key(self, settings):
        settings.MASSIVE_API_KEY = ""
        assert make_source(settings=settings).name == "simulator"

    def test_massive_with_key(self, settings):
        settings.MASSIVE_API_KEY = "abc"
        source = make_source(settings=settings)
        assert source.name == "massive"
        assert source.interval == settings.MASSIVE_POLL_SECONDS


class TestSimulatorSource:
    def test_prices_every_ticker_asked(self):
        source = SimulatorSource(interval=0.5, seed=1)
        quotes = source.fetch(["AAPL", "PYPL"])
        assert set(quotes.prices) == {"AAPL", "PYPL"}
        assert quotes.unknown == set()

    def test_resumes_from_stored_prices(self):
        source = SimulatorSource(interval=0.5, seed=1, start_prices={"AAPL": 250.0}, start_opens={"AAPL": 240.0})
        quotes = source.fetch(["AAPL"])
        assert quotes.prices["AAPL"] == 250.0
        assert quotes.open_prices == {"AAPL": 240.0}  # the stored session open, not the resumed price

    def test_a_new_ticker_opens_at_its_seed_exactly(self):
        source = SimulatorSource(interval=0.5, seed=1)
        first = source.fetch(["AAPL", "PYPL"])
        assert first.prices == {"AAPL": 190.0, "PYPL": 100.0}
        assert first.open_prices == {"AAPL": 190.0, "PYPL": 100.0}
        assert source.fetch(["AAPL", "PYPL"]).open_prices == {}  # later steps leave the open alone

    def test_a_ticker_removed_is_forgotten_and_added_again_starts_over(self):
        # The store drops a ticker nobody prices; the source forgets it too, so a re-add starts at its seed.
        source = SimulatorSource(interval=0.5, seed=1, start_prices={"PYPL": 80.0}, start_opens={"PYPL": 79.0})
        for _ in range(20):
            source.fetch(["AAPL", "PYPL"])
        source.fetch(["AAPL"])
        again = source.fetch(["AAPL", "PYPL"])
        assert again.prices["PYPL"] == 100.0 and again.open_prices == {"PYPL": 100.0}

    def test_a_poll_copies_the_ticker_set_a_fixed_number_of_times(self, monkeypatch):
        # Operation count, not time: the set of priced tickers (an O(N) copy) was rebuilt once per ticker, so a
        # poll cost O(N^2), 25 ms of a worker's tick at 1,000 tickers.
        copies = []
        real = PriceSimulator.tickers

        monkeypatch.setattr(PriceSimulator, "tickers", property(lambda sim: copies.append(1) or real.fget(sim)))
        for n in (10, 1_000):
            source = SimulatorSource(interval=0.5, seed=1)
            tickers = [f"X{i}" for i in range(n)]
            source.fetch(tickers)
            copies.clear()
            source.fetch(tickers)
            assert len(copies) <= 3, n

    def test_what_it_holds_is_bounded_by_what_it_prices(self):
        # 2,000 tickers added and removed one after another (issue 19: 15,000 adds grew the worker to 4.5 GB).
        source = SimulatorSource(interval=0.5, seed=1, start_prices={"GONE": 5.0}, start_opens={"GONE": 5.0})
        for i in range(2_000):
            source.fetch(["AAPL", f"X{i}"])
            source.fetch(["AAPL"])
        assert set(source._last) == set(source._opens) == {"AAPL"}
        assert source.simulator.tickers == ["AAPL"]
