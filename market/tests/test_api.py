"""The market's JSON API: health, the watchlist, and what bad input gets (4xx, nothing changed)."""

import json

import pytest

from core.db import DEFAULT_USER
from market import selectors

pytestmark = pytest.mark.django_db

DEFAULT = ["AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "JPM", "V", "NFLX"]


def post_json(client, path, body):
    data = json.dumps(body) if not isinstance(body, str) else body
    return client.post(path, data=data, content_type="application/json")


class TestHealth:
    def test_stale_before_any_tick(self, client):
        body = client.get("/api/health").json()
        assert body["status"] == "degraded"
        assert body["database"] is True
        assert body["prices"]["fresh"] is False

    def test_fresh_after_a_tick(self, client, publish):
        publish({"AAPL": 190.0})
        body = client.get("/api/health").json()
        assert body["status"] == "ok"
        assert body["prices"]["fresh"] is True
        assert body["prices"]["source"] == "test"


class TestWatchlist:
    def test_lists_default_tickers_in_order_with_null_prices_until_priced(self, client, publish):
        publish({"AAPL": 190.0})
        items = client.get("/api/watchlist").json()
        assert [i["ticker"] for i in items] == DEFAULT
        assert items[0]["price"] == 190.0 and items[0]["direction"] == "flat" and items[0]["status"] == "priced"
        assert items[1] == {
            "ticker": "GOOGL", "price": None, "prev_price": None, "open_price": None,
            "direction": None, "timestamp": None, "change_percent": None, "status": "pending",
        }

    def test_ticker_the_source_does_not_know_is_reported_unknown(self, client, publish):
        publish({"AAPL": 190.0}, keep={"AAPL", "NFLX"}, unknown={"NFLX"})
        items = {i["ticker"]: i for i in client.get("/api/watchlist").json()}
        assert items["NFLX"]["status"] == "unknown" and items["NFLX"]["price"] is None
        assert items["GOOGL"]["status"] == "pending"

    def test_a_ticker_its_source_stopped_sending_is_stale(self, client, publish):
        import time

        publish({"AAPL": 190.0, "MSFT": 420.0}, produced_at=time.time() - 60)
        publish({"MSFT": 421.0}, keep={"AAPL", "MSFT"})
        items = {i["ticker"]: i for i in client.get("/api/watchlist").json()}
        assert (items["AAPL"]["status"], items["AAPL"]["price"]) == ("stale", 190.0)  # its last price, marked
        assert items["MSFT"]["status"] == "priced"
        assert client.get("/api/health").json()["prices"]["fresh"] is True

    def test_add_normalizes_and_appends(self, client):
        response = post_json(client, "/api/watchlist", {"ticker": " pypl "})
        assert response.status_code == 201
        assert response.json()["ticker"] == "PYPL"
        assert selectors.watched_tickers(user_id=DEFAULT_USER)[-1] == "PYPL"

    def test_add_past_the_limit_is_refused_naming_it(self, client, settings):
        settings.WATCHLIST_MAX_TICKERS = 11
        assert post_json(client, "/api/watchlist", {"ticker": "PYPL"}).status_code == 201
        response = post_json(client, "/api/watchlist", {"ticker": "SHOP"})
        assert response.status_code == 409
        assert response.json() == {
            "error": "The watchlist is full: at most 11 tickers watched or held, and a held position counts whether "
                     "it is on the watchlist or not. Sell or remove one before adding SHOP."
        }
        watched = selectors.watched_tickers(user_id=DEFAULT_USER)
        assert "SHOP" not in watched and len(watched) == 11

    def test_held_positions_count_towards_the_limit(self, client, settings, publish):
        """The review's loop through the API: add to the cap, buy a cent's worth of each, remove them; the next add
        is refused, and the tickers priced never pass the cap."""
        settings.WATCHLIST_MAX_TICKERS = 13
        made_up = ["ZQA", "ZQB", "ZQC"]
        for ticker in made_up:
            assert post_json(client, "/api/watchlist", {"ticker": ticker}).status_code == 201
        publish({t: 100.0 for t in selectors.priced_tickers()})
        for ticker in made_up:
            order = post_json(client, "/api/portfolio/trade", {"ticker": ticker, "side": "buy", "quantity": 0.0001})
            assert order.status_code == 201, order.content
            assert client.delete(f"/api/watchlist/{ticker}").status_code == 204
        response = post_json(client, "/api/watchlist", {"ticker": "ZQD"})
        assert response.status_code == 409
        assert "at most 13 tickers watched or held" in response.json()["error"]
        assert "Sell or remove one before adding ZQD" in response.json()["error"]
        watched = selectors.watched_tickers(user_id=DEFAULT_USER)
        assert len(watched) == 10 and "ZQD" not in watched
        assert selectors.priced_tickers() == set(DEFAULT) | set(made_up)

    def test_add_twice_is_a_conflict(self, client):
        post_json(client, "/api/watchlist", {"ticker": "BRK.B"})
        response = post_json(client, "/api/watchlist", {"ticker": "brk.b"})
        assert response.status_code == 409
        assert response.json() == {"error": "BRK.B is already on the watchlist."}

    def test_remove(self, client):
        response = client.delete("/api/watchlist/nflx")
        assert response.status_code == 204
        assert "NFLX" not in selectors.watched_tickers(user_id=DEFAULT_USER)

    def test_remove_unwatched_is_404(self, client):
        response = client.delete("/api/watchlist/PYPL")
        assert response.status_code == 404
        assert "not on the watchlist" in response.json()["error"]


HOSTILE_ADDS = [
    {"ticker": ""},
    {"ticker": "   "},
    {"ticker": "AA PL"},
    {"ticker": "<script>alert(1)</script>"},
    {"ticker": "A" * 1000},
    {"ticker": "../../etc/passwd"},
    {"ticker": "\u0131bm"},  # dotless i: upper-casing it first made IBM
    {"ticker": "\u00df"},  # sharp s: SS
    {"ticker": "\uff21\uff21\uff30\uff2c"},  # full-width AAPL
    {"ticker": "\u0410APL"},  # a Cyrillic A
    {"ticker": None},
    {"ticker": 123},
    {"ticker": ["AAPL"]},
    {},
    [],
    "not json",
    '{"ticker": "AAPL"',
    '{"ticker": NaN}',
]

HOSTILE_REMOVES = ["%20", "..%2F..%2Fetc%2Fpasswd", "%3Cscript%3E", "A" * 1000, "AAPL%00", "AA%20PL", ".."]


class TestHostileInput:
    @pytest.mark.parametrize("body", HOSTILE_ADDS, ids=range(len(HOSTILE_ADDS)))
    def test_bad_add_is_4xx_and_changes_nothing(self, client, body):
        before = selectors.watched_tickers(user_id=DEFAULT_USER)
        response = post_json(client, "/api/watchlist", body)
        assert 400 <= response.status_code < 500
        assert isinstance(response.json()["error"], str) and response.json()["error"]
        assert selectors.watched_tickers(user_id=DEFAULT_USER) == before
        assert client.get("/api/health").status_code == 200

    def test_no_error_reads_as_a_pattern(self, client):
        """The schema's ticker pattern refuses these; the answer says why in the ticker rule's words."""
        for body in HOSTILE_ADDS:
            response = post_json(client, "/api/watchlist", body)
            assert "pattern" not in response.json()["error"], (body, response.json())
        response = post_json(client, "/api/watchlist", {"ticker": "\u0131bm"})
        assert "non-ASCII character" in response.json()["error"]
        assert "non-ASCII character" in client.delete("/api/watchlist/%C4%B1bm").json()["error"]

    @pytest.mark.parametrize("ticker", HOSTILE_REMOVES)
    def test_bad_remove_is_4xx_and_changes_nothing(self, client, ticker):
        before = selectors.watched_tickers(user_id=DEFAULT_USER)
        response = client.delete(f"/api/watchlist/{ticker}")
        assert 400 <= response.status_code < 500
        assert "error" in response.json()
        assert selectors.watched_tickers(user_id=DEFAULT_USER) == before

    def test_wrong_content_type_is_415(self, client):
        response = client.post("/api/watchlist", data={"ticker": "PYPL"})
        assert response.status_code == 415
        assert "PYPL" not in selectors.watched_tickers(user_id=DEFAULT_USER)

    def test_wrong_method_is_405_json(self, client):
        response = client.put("/api/watchlist", data="{}", content_type="application/json")
        assert response.status_code == 405
        assert response.json() == {"error": "Method Not Allowed"}

    def test_unknown_api_path_is_404_json(self, client):
        assert client.get("/api/nope").json() == {"error": "Not Found"}

