"""The portfolio's JSON API: valuation, orders, history, and hostile input (4xx, portfolio unchanged)."""

import json

import pytest

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
        assert {k: body[k] for k in ("ticker", "side", "quantity", "price", "notional", "realized_pnl", "cash_balance")} == {
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
        market_services.remove_ticker(ticker="AAPL")
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
    None,
    [],
    [OK],
    "AAPL",
    "",
    "{not json",
    '{"ticker": "AAPL", "quantity": 1, "side": "buy"',
    b"\xff\xfe\x00garbage",
    '{"ticker": "AAPL", "quantity": 1, "side": "buy", "pad": "' + "x" * 1_000_000 + '"}',
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

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])
    def test_unknown_content_type_is_415(self, client, content_type):
        before = state()
        response = trade(client, json.dumps(OK), content_type=content_type)
        assert response.status_code == 415
        assert state() == before

    def test_get_on_trade_is_405(self, client):
        assert client.get("/api/portfolio/trade").status_code == 405

    def test_valid_order_still_works_after_all_that(self, client):
        assert trade(client, OK).status_code == 201
