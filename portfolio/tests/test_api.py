"""The portfolio's JSON API: valuation, orders, history, and hostile input (4xx, portfolio unchanged)."""

import json
import re

import pytest

from core.db import DEFAULT_USER
from market import services as market_services
from portfolio.models import PortfolioSnapshot, Position, Profile, Trade

pytestmark = pytest.mark.django_db


def trade(client, body, content_type="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/api/portfolio/trade", data=data, content_type=content_type)


def state():
    return (
        Profile.objects.get(pk="default").cash_balance,
        sorted(Position.objects.values_list("ticker", "quantity", "avg_cost")),
        Trade.objects.count(),
        PortfolioSnapshot.objects.count(),
    )


@pytest.fixture(autouse=True)
def aapl_price(publish):
    publish({"AAPL": 191.5, "MSFT": 420.0})


class TestOrders:
    def test_buy_returns_the_executed_trade(self, client):
        response = trade(client, {"ticker": "aapl", "quantity": 10, "side": "buy"})
        assert response.status_code == 201
        body = response.json()
        keys = ("ticker", "side", "quantity", "price", "notional", "realized_pnl", "cash_balance")
        assert {k: body[k] for k in keys} == {
            "ticker": "AAPL", "side": "buy", "quantity": 10.0, "price": 191.5, "notional": 1915.0,
            "realized_pnl": None, "cash_balance": 8085.0,
        }
        assert body["executed_at"].endswith("Z")

    def test_portfolio_and_history(self, client, publish):
        trade(client, {"ticker": "AAPL", "quantity": 10, "side": "buy"})
        publish({"AAPL": 200.0, "MSFT": 420.0})
        body = client.get("/api/portfolio").json()
        assert body["cash_balance"] == 8085.0
        assert body["total_value"] == 10085.0
        assert body["positions"] == [
            {
                "ticker": "AAPL", "quantity": 10.0, "avg_cost": 191.5, "cost_basis": 1915.0, "current_price": 200.0,
                "market_value": 2000.0, "unrealized_pnl": 85.0, "change_percent": 4.44,
                "day_change_percent": pytest.approx(4.4386, abs=1e-3), "weight": 1.0,
            }
        ]
        history = client.get("/api/portfolio/history").json()
        assert [h["total_value"] for h in history] == [10000.0, 10000.0]

    def test_removed_from_watchlist_but_held_stays_priced_and_sellable(self, client):
        trade(client, {"ticker": "AAPL", "quantity": 2, "side": "buy"})
        market_services.remove_ticker(user_id=DEFAULT_USER, ticker="AAPL")
        assert client.get("/api/portfolio").json()["positions"][0]["current_price"] == 191.5
        response = trade(client, {"ticker": "AAPL", "quantity": 2, "side": "sell"})
        assert response.status_code == 201
        assert response.json()["realized_pnl"] == 0.0

    @pytest.mark.parametrize(
        "body, message",
        [
            ({"ticker": "AAPL", "quantity": 1000, "side": "buy"}, "Not enough cash"),
            ({"ticker": "AAPL", "quantity": 1, "side": "sell"}, "Not enough shares"),
            ({"ticker": "ZZZ", "quantity": 1, "side": "buy"}, "no price for ZZZ"),
        ],
    )
    def test_rejections_are_400_with_a_reason(self, client, body, message):
        response = trade(client, body)
        assert response.status_code == 400
        assert message in response.json()["error"]


OK = {"ticker": "AAPL", "quantity": 1, "side": "buy"}
HOSTILE = [
    {"ticker": "AAPL", "side": "buy"},
    {"quantity": 1, "side": "buy"},
    {"ticker": "AAPL", "quantity": 1},
    {**OK, "quantity": "10"},
    {**OK, "quantity": "ten"},
    {**OK, "quantity": None},
    {**OK, "quantity": True},
    {**OK, "quantity": [1]},
    {**OK, "quantity": {"n": 1}},
    {**OK, "quantity": -1},
    {**OK, "quantity": 0},
    {**OK, "quantity": 0.00001},
    {**OK, "quantity": 1e308},
    '{"ticker": "AAPL", "quantity": 1e309, "side": "buy"}',
    '{"ticker": "AAPL", "quantity": NaN, "side": "buy"}',
    '{"ticker": "AAPL", "quantity": Infinity, "side": "buy"}',
    '{"ticker": "AAPL", "quantity": -Infinity, "side": "buy"}',
    {**OK, "side": "BUY "},
    {**OK, "side": "hold"},
    {**OK, "side": None},
    {**OK, "side": 1},
    {**OK, "ticker": None},
    {**OK, "ticker": 42},
    {**OK, "ticker": ""},
    {**OK, "ticker": "<script>alert(1)</script>"},
    {**OK, "ticker": "A" * 1000},
    {**OK, "ticker": "../AAPL"},
    {**OK, "quantity": 0.00005},
    {**OK, "client_order_id": ""},
    {**OK, "client_order_id": "x" * 65},
    {**OK, "client_order_id": "a b"},
    {**OK, "client_order_id": 7},
    None,
    [],
    [OK],
    "AAPL",
    "",
    "{not json",
    '{"ticker": "AAPL", "quantity": 1, "side": "buy"',
    b"\xff\xfe\x00garbage",
    '{"ticker": "AAPL", "quantity": 1, "side": "buy", "pad": "' + "x" * 1_000_000 + '"}',
    '{"ticker": "AAPL", "quantity": 1' + "0" * 5000 + ', "side": "buy"}',  # past Python's 4,300-digit limit
    "[" * 30_000 + "]" * 30_000,  # past the recursion limit, within the 64 KB a body may be
]


class TestHostileInput:
    @pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
    def test_4xx_and_portfolio_unchanged(self, client, body):
        before = state()
        response = trade(client, body if isinstance(body, (str, bytes)) else json.dumps(body))
        assert 400 <= response.status_code < 500, response.content[:200]
        assert response.json()["error"]
        assert state() == before
        assert client.get("/api/health").status_code == 200

    @pytest.mark.parametrize("path", ["/api/portfolio/trade", "/api/orders", "/api/watchlist"])
    def test_an_empty_body_is_told_so(self, client, path):
        # With Content-Type: application/json and no body (curl -d ''): pydantic said only "Field required".
        response = client.generic("POST", path, b"", CONTENT_TYPE="application/json")
        assert response.status_code == 422 and response.json()["error"].startswith("The request body is empty")

    @pytest.mark.parametrize("body", ["null", "[]", "1", "true", '"AAPL"', '[{"ticker": "AAPL"}]'])
    def test_a_body_that_is_not_an_object_is_told_so(self, client, body):
        response = trade(client, body)
        assert (response.status_code, response.json()) == (422, {"error": "The request body must be a JSON object."})

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
    )
    def test_unknown_content_type_is_415(self, client, content_type):
        before = state()
        response = trade(client, json.dumps(OK), content_type=content_type)
        assert response.status_code == 415
        assert state() == before

    def test_get_on_trade_is_405(self, client):
        assert client.get("/api/portfolio/trade").status_code == 405

    def test_valid_order_still_works_after_all_that(self, client):
        assert trade(client, OK).status_code == 201


class TestZeroPrice:
    def test_a_zero_quote_in_the_store_is_refused_with_a_4xx_and_changes_nothing(self, client, price_store):
        """The store no longer keeps one (market.quotes.storable_price); forced there, the engine refuses it before
        the trade table's CHECK (price > 0) would turn it into a database error and a 500."""
        import sqlite3

        assert trade(client, {**OK, "quantity": 10}).status_code == 201
        with sqlite3.connect(price_store.path) as conn:
            conn.execute("UPDATE quote SET price = 0.0 WHERE ticker = 'AAPL'")
        assert price_store.latest("AAPL").price == 0.0
        before = state()
        for side in ("sell", "buy"):
            response = trade(client, {"ticker": "AAPL", "quantity": 10, "side": side})
            assert response.status_code == 400
            assert response.json() == {"error": "There is no usable price for AAPL (the last one is $0): it cannot "
                                                "be traded until its source prices it again."}
        assert state() == before


class TestLookAlikeTickers:
    """Upper-casing before the ASCII check made "ıbm" IBM and "ß" SS: real symbols, priced, that nobody typed."""

    @pytest.mark.parametrize(
        "ticker", ["\u0131bm", "\u00df", "\uff21\uff21\uff30\uff2c", "\u0410APL"],
        ids=["dotless-i", "sharp-s", "full-width", "cyrillic-a"],
    )
    def test_refused_and_nothing_traded(self, client, publish, ticker):
        publish({"AAPL": 191.5, "MSFT": 420.0, "IBM": 150.0, "SS": 20.0})
        before = state()
        response = trade(client, {**OK, "ticker": ticker})
        assert response.status_code == 422  # the schema's ticker pattern, in the ticker rule's words
        assert "non-ASCII character" in response.json()["error"]
        assert state() == before


class TestClientOrderId:
    def test_a_retry_returns_the_first_fill_and_trades_nothing(self, client, publish):
        body = {**OK, "quantity": 3, "client_order_id": "retry-1"}
        first = trade(client, body)
        assert first.status_code == 201
        before = state()
        publish({"AAPL": 250.0, "MSFT": 420.0})  # the price moved: a second fill would show it
        again = trade(client, body)
        assert again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert {k: v for k, v in again.json().items() if k != "cash_balance"} == {
            k: v for k, v in first.json().items() if k != "cash_balance"
        }
        assert again.json()["price"] == 191.5
        assert state() == before

    def test_another_id_is_another_order(self, client):
        assert trade(client, {**OK, "client_order_id": "a"}).status_code == 201
        assert trade(client, {**OK, "client_order_id": "b"}).status_code == 201
        assert Trade.objects.count() == 2

    def test_reusing_an_id_for_a_different_order_is_409(self, client):
        trade(client, {**OK, "client_order_id": "same"})
        before = state()
        response = trade(client, {**OK, "quantity": 2, "client_order_id": "same"})
        assert response.status_code == 409
        assert "already filled a different order" in response.json()["error"]
        assert state() == before

    def test_a_rejected_order_can_be_retried(self, client, publish):
        """Nothing happened the first time, so the id is not spent."""
        body = {"ticker": "AAPL", "quantity": 2, "side": "sell", "client_order_id": "sell-1"}
        assert trade(client, body).status_code == 400
        trade(client, {**OK, "quantity": 2})
        assert trade(client, body).status_code == 201

    def test_it_is_in_the_openapi_document(self, client):
        schema = client.get("/api/openapi.json").json()["components"]["schemas"]["TradeIn"]
        assert "client_order_id" in schema["properties"]


class TestStaleFeed:
    def test_an_order_on_a_stale_feed_is_refused_with_the_delay(self, client, publish):
        """A passing condition: 503 with Retry-After (a client retries it), never a final 4xx."""
        import time

        publish({"AAPL": 191.5}, produced_at=time.time() - 42)
        before = state()
        response = trade(client, OK)
        assert response.status_code == 503
        assert response["Retry-After"] == "2"
        # 42 s, or 43 on a loaded machine (the age is measured when the order runs)
        assert re.match(r"Prices are delayed 4[23] s", response.json()["error"])
        assert "resume" in response.json()["error"]
        assert state() == before
        publish({"AAPL": 191.5})
        assert trade(client, OK).status_code == 201


class TestStaleQuote:
    def test_a_ticker_its_source_stopped_sending_is_refused_like_a_stale_feed(self, client, publish, price_store):
        import time

        now = time.time()
        publish({"AAPL": 191.5, "MSFT": 420.0}, produced_at=now - 42)
        feed_stale = trade(client, OK)  # the whole feed 42 s old
        publish({"MSFT": 420.0}, keep={"AAPL", "MSFT"}, produced_at=now)  # the feed is back, AAPL is not
        before = state()
        response = trade(client, OK)
        assert re.match(r"The price of AAPL is 4\d s old: ", response.json()["error"])  # 42 s, and a slow machine
        # Refused as a stale feed is (the same status and headers, whatever the API makes of a temporary refusal).
        assert 400 <= response.status_code == feed_stale.status_code
        assert response.get("Retry-After") == feed_stale.get("Retry-After")
        assert state() == before
        assert trade(client, {**OK, "ticker": "MSFT"}).status_code == 201


class TestHistoryBound:
    STEP_SECONDS = 365 * 86_400 / 20_000

    @pytest.fixture
    def year_of_snapshots(self):
        from datetime import timedelta

        from django.utils import timezone

        # Spread over the year, as the worker's periodic snapshots are: the series is thinned evenly in time.
        start = timezone.now() - timedelta(days=365)
        PortfolioSnapshot.objects.bulk_create(
            [
                PortfolioSnapshot(
                    total_value=10_000 + i % 500, recorded_at=start + timedelta(seconds=i * self.STEP_SECONDS)
                )
                for i in range(20_000)
            ]
        )
        return start

    def test_at_most_a_thousand_points_by_default_latest_included(self, client, year_of_snapshots):
        history = client.get("/api/portfolio/history").json()
        assert 900 <= len(history) <= 1000
        latest = PortfolioSnapshot.objects.latest("recorded_at")
        assert history[-1]["total_value"] == float(latest.total_value)
        times = [h["recorded_at"] for h in history]
        assert times == sorted(times)

    def test_points_and_window(self, client, year_of_snapshots):
        from datetime import timedelta

        assert len(client.get("/api/portfolio/history", {"points": 50}).json()) <= 50
        since = (year_of_snapshots + timedelta(seconds=19_990 * self.STEP_SECONDS)).isoformat()
        window = client.get("/api/portfolio/history", {"since": since}).json()
        assert len(window) == 11  # ten of the old series and the seed snapshot taken just now

    @pytest.mark.parametrize("query", [{"points": 0}, {"points": 100_000}, {"points": "x"}, {"since": "yesterday"}])
    def test_bad_parameters_are_422(self, client, query):
        response = client.get("/api/portfolio/history", query)
        assert response.status_code == 422
        assert response.json()["error"]


@pytest.mark.parametrize(
    "query", [{"since": "0001-01-01T00:00:00+01:00"}, {"until": "9999-12-31T23:59:59-01:00"}, {"since": "1900-01-01"}]
)
def test_history_dates_out_of_range_are_422_not_500(client, query):
    response = client.get("/api/portfolio/history", query)
    assert response.status_code == 422
    assert "1970" in response.json()["error"]


class TestOneRouteServesTheOrder:
    """POST /api/portfolio/trade is one ninja operation: what the OpenAPI document describes is what answers."""

    def test_times_are_written_to_the_millisecond_in_utc(self, client):
        written = trade(client, OK).json()["executed_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", written), written

    def test_a_replay_says_so_in_a_header(self, client):
        first = trade(client, {**OK, "client_order_id": "r-1"})
        again = trade(client, {**OK, "client_order_id": "r-1"})
        assert first.status_code == again.status_code == 201
        assert first.get("Idempotent-Replayed") is None and again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert again["Content-Type"] == "application/json; charset=utf-8"

    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_other_methods_are_405_with_allow(self, client, method):
        response = client.generic(method.upper(), "/api/portfolio/trade", data=json.dumps(OK),
                                  content_type="application/json")
        assert response.status_code == 405 and response["Allow"] == "POST"
        assert "error" in response.json()

    def test_the_ninja_operation_is_what_serves_the_url(self):
        from django.urls import resolve

        from portfolio.api import router

        assert resolve("/api/portfolio/trade").namespace == "api"  # the NinjaAPI's routes, not a view of our own
        assert [op.view_func.__name__ for op in router.path_operations["/trade"].operations] == ["trade"]


class TestPassingConditionsAre503:
    """No live prices yet, prices delayed, the store or database away: 503 with Retry-After, never a 4xx a client
    would take as final; nothing changes."""

    def answer(self, client, body):
        response = trade(client, body)
        return response.status_code, response.get("Retry-After"), response.json()["error"]

    def test_no_live_prices_yet(self, client, settings, tmp_path):
        settings.PRICE_STORE_PATH = str(tmp_path / "empty.db")  # a worker that has not ticked yet
        before = state()
        status, retry_after, message = self.answer(client, OK)
        assert (status, retry_after) == (503, "2")
        assert "no live prices yet" in message
        assert state() == before

    def test_logged_as_a_warning_not_an_error(self, client, settings, tmp_path, caplog):
        """Django logs every 5xx as an ERROR; a passing 503 is expected (a restart, a delayed feed): a warning."""
        settings.PRICE_STORE_PATH = str(tmp_path / "empty.db")
        with caplog.at_level("INFO", logger="django.request"):
            self.answer(client, OK)
        levels = [r.levelname for r in caplog.records if r.name == "django.request"]
        assert levels == ["WARNING"]

    def test_retry_after_is_a_setting(self, client, settings, publish):
        import time

        settings.API_RETRY_AFTER_SECONDS = 7
        publish({"AAPL": 191.5}, produced_at=time.time() - 60)
        assert trade(client, OK)["Retry-After"] == "7"

    def test_a_watched_ticker_not_priced_yet(self, client, settings):
        market_services.add_ticker(user_id=DEFAULT_USER, ticker="PYPL")
        answer = self.answer(client, {**OK, "ticker": "PYPL"})
        assert answer == (503, "2", "There is no price for PYPL yet: try again in a moment.")

    def test_a_ticker_nobody_watches_is_a_final_400(self, client, settings):
        assert self.answer(client, {**OK, "ticker": "ZZZ"})[:2] == (400, None)

    def test_the_price_store_unreachable(self, client, settings, monkeypatch):
        from market.quotes import StoreUnavailable
        from market.sqlite_store import SQLitePriceStore

        def away(self):
            raise StoreUnavailable("restarting")

        monkeypatch.setattr(SQLitePriceStore, "status", away)
        before = state()
        assert self.answer(client, OK)[:2] == (503, "2")
        assert state() == before


def store_a_zero_quote(price_store, ticker: str) -> None:
    """A price of 0 written behind the store's back: neither the worker nor the store should ever keep one (issue 19,
    item 3), and the engine must not meet the trade table's CHECK as a database error should one get there."""
    import sqlite3

    connection = sqlite3.connect(price_store.path)
    with connection:
        assert connection.execute("UPDATE quote SET price = 0.0 WHERE ticker = ?", [ticker]).rowcount == 1
    connection.close()


class TestNoDatabaseErrorIsA500:
    """Whatever constraint the engine meets, the client is told why with a 4xx (or a 503), and the books stand."""

    def test_a_zero_quote_cannot_close_a_position(self, client, settings, price_store):
        """Closing is allowed at any price (no dust is stranded), so a quote of 0 reached the trade table's CHECK."""
        assert trade(client, {**OK, "quantity": 3}).status_code == 201
        store_a_zero_quote(price_store, "AAPL")
        before = state()
        response = trade(client, {**OK, "quantity": 3, "side": "sell"})
        assert response.status_code == 400, response.content
        assert "no usable price for AAPL" in response.json()["error"]
        assert state() == before

    def test_an_integrity_error_is_a_409_that_changes_nothing(self, client, settings, monkeypatch):
        """A replayed client_order_id the engine failed to see (a stand-in for any race it did not foresee): the
        unique constraint refuses the second insert; the client hears so, and no cash or shares moved."""
        from portfolio import trade_sql

        assert trade(client, {**OK, "client_order_id": "dup-1"}).status_code == 201
        monkeypatch.setattr(trade_sql, "find_order", lambda *args: None)
        before = state()
        response = trade(client, {**OK, "client_order_id": "dup-1"})
        assert response.status_code == 409, response.content
        assert response.json()["error"].startswith("The order could not be recorded (")
        assert "nothing was traded" in response.json()["error"]
        assert state() == before
        monkeypatch.undo()
        assert trade(client, {**OK, "quantity": 2}).status_code == 201  # the engine carries on


class TestTrades:
    def fill(self, client, *orders):
        for ticker, side, quantity in orders:
            assert trade(client, {"ticker": ticker, "side": side, "quantity": quantity}).status_code == 201

    def test_newest_first_with_the_blotters_fields(self, client):
        self.fill(client, ("AAPL", "buy", 2), ("MSFT", "buy", 1), ("AAPL", "sell", 1))
        body = client.get("/api/trades").json()
        assert [(t["ticker"], t["side"], t["quantity"]) for t in body["trades"]] == [
            ("AAPL", "sell", 1.0), ("MSFT", "buy", 1.0), ("AAPL", "buy", 2.0)
        ]
        assert body["next_before"] is None
        newest = body["trades"][0]
        assert newest["price"] == 191.5 and newest["notional"] == 191.5 and newest["realized_pnl"] == 0.0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", newest["executed_at"])
        assert set(newest) == {"id", "ticker", "side", "quantity", "price", "notional", "realized_pnl",
                               "executed_at", "client_order_id"}

    def test_pages_walk_every_trade_once(self, client):
        self.fill(client, *[("AAPL", "buy", 1)] * 7)
        seen, before = [], None
        while True:
            query = {"limit": 3, **({"before": before} if before else {})}
            page = client.get("/api/trades", query).json()
            seen += [t["id"] for t in page["trades"]]
            assert len(page["trades"]) <= 3
            before = page["next_before"]
            if before is None:
                break
        assert seen == list(Trade.objects.order_by("-executed_at", "-id").values_list("id", flat=True))
        assert len(seen) == 7

    def test_filters(self, client):
        self.fill(client, ("AAPL", "buy", 2), ("MSFT", "buy", 1), ("AAPL", "sell", 1))
        assert [t["side"] for t in client.get("/api/trades", {"ticker": " aapl "}).json()["trades"]] == ["sell", "buy"]
        assert [t["ticker"] for t in client.get("/api/trades", {"side": "buy"}).json()["trades"]] == ["MSFT", "AAPL"]
        assert client.get("/api/trades", {"ticker": "NFLX"}).json() == {"trades": [], "next_before": None}

    def test_limit_defaults_to_50(self, client):
        from decimal import Decimal

        from django.utils import timezone

        Trade.objects.bulk_create([
            Trade(ticker="AAPL", side="buy", quantity=Decimal(1), price=Decimal(1), executed_at=timezone.now())
            for _ in range(60)
        ])
        body = client.get("/api/trades").json()
        assert len(body["trades"]) == 50 and body["next_before"] == body["trades"][-1]["id"]
        assert len(client.get("/api/trades", {"limit": 500}).json()["trades"]) == 60

    @pytest.mark.parametrize(
        "query",
        [{"limit": 0}, {"limit": 501}, {"limit": "x"}, {"side": "hold"}, {"ticker": "<b>"}, {"ticker": "A" * 40},
         {"before": "x y"}],
    )
    def test_bad_parameters_are_422(self, client, query):
        response = client.get("/api/trades", query)
        assert response.status_code == 422
        assert response.json()["error"]

    def test_a_cursor_naming_no_trade_is_404(self, client):
        response = client.get("/api/trades", {"before": "00000000-0000-7000-8000-000000000000"})
        assert response.status_code == 404
        assert "no trade" in response.json()["error"]


@pytest.mark.parametrize("value", ["0.5", "1700000000", "-1", "1e9", "now", "2026-04-10T12:00:00+01"])
def test_history_takes_iso_8601_only(client, value):
    """Pydantic reads a number as seconds since 1970; the documented rule is ISO 8601."""
    response = client.get("/api/portfolio/history", {"until": value})
    assert response.status_code == 422
    assert "ISO 8601" in response.json()["error"]


@pytest.mark.parametrize(
    "value", ["2026-04-10", "2026-04-10T12:00", "2026-04-10T12:00:00Z", "2026-04-10T12:00:00.123456+05:30",
              "1970-01-01T00:00:00+14:00", "2199-12-31T23:59:59-12:00"]
)
def test_history_takes_iso_8601_times(client, value):
    assert client.get("/api/portfolio/history", {"until": value}).status_code == 200


def test_the_trades_export_as_csv_oldest_first_every_trade_of_the_book(client, publish, monkeypatch):
    import csv
    import io

    from asgiref.sync import async_to_sync

    from portfolio import selectors

    monkeypatch.setattr(selectors, "EXPORT_CHUNK", 2)  # several chunks: none lost or repeated at their seams
    publish({"AAPL": 0.3351, "MSFT": 420.0})
    for ticker, side, qty in [("AAPL", "buy", 3), ("MSFT", "buy", 1), ("AAPL", "sell", 1), ("AAPL", "buy", 0.5),
                              ("MSFT", "sell", 1)]:
        assert client.post("/api/portfolio/trade", {"ticker": ticker, "side": side, "quantity": qty},
                           content_type="application/json").status_code == 201
    response = client.get("/api/trades.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="finally-trades-')
    async def read():  # the body streams from an async generator; its reads come back to this thread's connection
        return b"".join([chunk async for chunk in response.streaming_content])

    rows = list(csv.DictReader(io.StringIO(async_to_sync(read)().decode())))
    assert [(r["side"], r["ticker"], r["quantity"]) for r in rows] == [
        ("buy", "AAPL", "3"), ("buy", "MSFT", "1"), ("sell", "AAPL", "1"), ("buy", "AAPL", "0.5"), ("sell", "MSFT", "1")
    ]
    assert rows[0]["price"] == "0.3351" and rows[0]["notional"] == "1.01"  # a buy's cost, rounded up
    assert rows[1]["price"] == "420.00" and rows[1]["notional"] == "420.00"
    assert rows[2]["notional"] == "0.33" and rows[2]["realized_pnl"] == "-0.01"  # proceeds rounded down, the cost up
    assert rows[0]["executed_at"].endswith("Z") and rows[0]["realized_pnl"] == ""
    assert len({r["id"] for r in rows}) == 5


def test_the_export_writes_an_order_id_a_spreadsheet_would_compute_as_text(client, publish):
    import csv
    import io

    from asgiref.sync import async_to_sync

    publish({"AAPL": 190.0})
    for order_id in ("-1-1", "plain-1"):
        assert client.post("/api/portfolio/trade", {"ticker": "AAPL", "side": "buy", "quantity": 1,
                                                    "client_order_id": order_id},
                           content_type="application/json").status_code == 201
    response = client.get("/api/trades.csv")

    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    rows = list(csv.DictReader(io.StringIO(async_to_sync(read)().decode())))
    assert [r["client_order_id"] for r in rows] == ["'-1-1", "plain-1"]


def test_an_export_the_database_cannot_read_is_an_error_status_not_a_short_200(client, monkeypatch):
    from django.db import OperationalError

    from portfolio import selectors

    def down(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(selectors, "trades_after", down)
    response = client.get("/api/trades.csv")
    assert response.status_code >= 500 and not response.streaming
