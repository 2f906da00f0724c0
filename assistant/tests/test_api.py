"""The chat API end to end in-process: mock mode, the model's replies executed through the engine, failures."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from assistant import llm
from assistant.models import ChatMessage
from core.db import DEFAULT_USER
from market.models import WatchlistEntry
from market.selectors import watched_tickers
from portfolio.models import STARTING_CASH, Position, Profile, Trade

pytestmark = pytest.mark.django_db


def send(client, message):
    return client.post("/api/chat", json.dumps({"message": message}), content_type="application/json")


def cash() -> Decimal:
    return Profile.objects.get().cash_balance


@pytest.fixture(autouse=True)
def prices(publish):
    publish({"AAPL": 190.0, "MSFT": 420.0})


class TestMockMode:
    @pytest.fixture(autouse=True)
    def mock(self, settings):
        settings.LLM_MOCK = True

    def test_a_buy_is_a_real_fill(self, client):
        body = send(client, "Buy 10 AAPL please").json()
        assert body["error"] is None
        [trade] = body["trades"]
        assert trade == {
            "ticker": "AAPL", "side": "buy", "quantity": 10.0, "status": "executed", "price": 190.0,
            "notional": 1900.0, "executed_at": trade["executed_at"], "error": None,
            "type": "market", "limit_price": None, "stop_price": None, "time_in_force": None, "order_id": None,
        }
        assert trade["executed_at"].endswith("Z")
        assert cash() == Decimal("8100.00") and Position.objects.get().quantity == 10

    def test_a_limit_rests_and_a_cancel_by_its_short_id_closes_it(self, client):
        from portfolio.models import Order

        body = send(client, "buy 2 AAPL @ 150 gtc").json()
        [placed] = body["trades"]
        assert placed["status"] == "placed" and placed["type"] == "limit" and placed["limit_price"] == 150.0
        order = Order.objects.get(pk=placed["order_id"])
        assert (order.status, order.time_in_force, order.reserved_cash) == ("new", "gtc", Decimal("300.00"))
        assert client.get("/api/portfolio").json()["buying_power"] == 9700.0
        body = send(client, f"cancel {order.id[-8:]}").json()
        assert body["cancels"] == [{"order_id": order.id[-8:], "status": "executed", "error": None, "canceled": None}]
        order.refresh_from_db()
        assert order.status == "canceled"
        missing = send(client, "cancel deadbeef").json()["cancels"][0]
        assert missing["status"] == "rejected" and "No open order" in missing["error"]

    def test_a_cancel_by_the_whole_id_closes_it_too(self, client):
        # The whole id is 36 characters: it was cut to the 32 other fields keep, and named no order (review).
        from portfolio.models import Order

        placed = send(client, "buy 2 AAPL @ 150 gtc").json()["trades"][0]
        [cancel] = send(client, f"cancel {placed['order_id']}").json()["cancels"]
        assert cancel["status"] == "executed" and cancel["order_id"] == placed["order_id"]
        assert Order.objects.get(pk=placed["order_id"]).status == "canceled"

    def test_a_marketable_limit_from_the_assistant_fills_through_the_same_engine(self, client):
        [trade] = send(client, "buy 1 AAPL @ 200").json()["trades"]
        assert trade["status"] == "executed" and trade["price"] == 190.0 and trade["type"] == "limit"
        assert cash() == Decimal("9810.00")

    @pytest.mark.parametrize("message", ["buy 1 \u0131bm", "add \u0131bm"])
    def test_a_look_alike_ticker_is_refused_not_upper_cased_into_a_real_one(self, client, publish, message):
        # [A-Za-z] with IGNORECASE matches "ı"; upper-cased, "ıbm" was IBM, a real symbol with a price.
        publish({"AAPL": 190.0, "MSFT": 420.0, "IBM": 150.0})
        body = send(client, message).json()
        [action] = body["trades"] or body["watchlist_changes"]
        assert action["status"] == "rejected" and "non-ASCII" in action["error"]
        assert Trade.objects.count() == 0 and "IBM" not in watched_tickers(user_id=DEFAULT_USER)

    @pytest.mark.parametrize("typed", ["1e0", "1e3"])
    def test_an_exponent_is_refused_as_the_trade_bar_refuses_it(self, client, typed):
        # float() read "1e0" as one share and bought it; a quantity typed as text is a plain decimal.
        body = send(client, f"buy {typed} aapl").json()
        [trade] = body["trades"]
        assert trade["status"] == "rejected" and "written plainly" in trade["error"]
        assert body["message"] == f"Mock assistant: buy {typed} AAPL."
        assert Trade.objects.count() == 0 and cash() == STARTING_CASH

    def test_a_large_quantity_is_written_plainly(self, client):
        body = send(client, "buy 99999999 aapl").json()
        assert body["message"] == "Mock assistant: buy 99,999,999 AAPL."
        assert "Not enough cash" in body["trades"][0]["error"]

    def test_sell_add_and_remove(self, client):
        send(client, "buy 10 aapl")
        body = send(client, "sell 4 aapl, add pypl and rm nflx").json()
        assert [t["status"] for t in body["trades"]] == ["executed"]
        assert [(c["ticker"], c["action"], c["status"]) for c in body["watchlist_changes"]] == [
            ("PYPL", "add", "executed"), ("NFLX", "remove", "executed"),
        ]
        assert "PYPL" in watched_tickers(user_id=DEFAULT_USER) and "NFLX" not in watched_tickers(user_id=DEFAULT_USER)
        assert Position.objects.get().quantity == 6

    def test_anything_else_gets_a_summary_and_no_action(self, client):
        body = send(client, "How am I doing?").json()
        assert "cash $10,000.00" in body["message"]
        assert body["trades"] == [] and body["watchlist_changes"] == []
        assert Trade.objects.count() == 0

    def test_a_rejected_action_is_reported_with_its_reason(self, client):
        body = send(client, "sell 5 MSFT and add AAPL").json()
        assert body["trades"][0]["status"] == "rejected" and "Not enough shares" in body["trades"][0]["error"]
        assert body["trades"][0]["price"] is body["trades"][0]["notional"] is body["trades"][0]["executed_at"] is None
        assert body["watchlist_changes"][0]["status"] == "rejected"
        assert "already on the watchlist" in body["watchlist_changes"][0]["error"]

    def test_an_add_past_the_limit_is_rejected_naming_it(self, client, settings):
        settings.WATCHLIST_MAX_TICKERS = 10
        body = send(client, "add pypl").json()
        [change] = body["watchlist_changes"]
        assert change["status"] == "rejected" and "at most 10 tickers" in change["error"]
        assert "PYPL" not in watched_tickers(user_id=DEFAULT_USER)

    def test_history_keeps_both_messages_with_their_actions(self, client):
        send(client, "buy 1 aapl")
        history = client.get("/api/chat/history").json()
        assert [m["role"] for m in history] == ["user", "assistant"]
        assert history[0]["content"] == "buy 1 aapl"
        assert history[1]["actions"]["trades"][0]["status"] == "executed"

    def test_history_is_the_last_twenty_oldest_first(self, client):
        for i in range(12):
            send(client, f"question {i}")
        history = client.get("/api/chat/history").json()
        assert len(history) == 20
        assert history[0]["content"] == "question 2" and history[-1]["role"] == "assistant"

    def test_html_in_a_message_is_stored_as_text(self, client):
        send(client, "<img src=x onerror=alert(1)>")
        assert ChatMessage.objects.filter(content="<img src=x onerror=alert(1)>").exists()

    @pytest.mark.parametrize("body", [{}, {"message": ""}, {"message": "   "}, {"message": 5}, {"message": "x" * 4001},
                                      {"message": "\ud800"}, {"message": "hi \u0000 there"}])
    def test_bad_messages_are_4xx_and_store_nothing(self, client, body):
        response = client.post("/api/chat", json.dumps(body), content_type="application/json")
        assert 400 <= response.status_code < 500
        assert response.json()["error"]
        assert ChatMessage.objects.count() == 0

    @pytest.mark.parametrize("text, words", [("   \u3000 ", "holds only blanks"), ("hi \u0000 there", "NUL character")])
    def test_a_message_the_pattern_refuses_is_explained_in_words(self, client, text, words):
        response = client.post("/api/chat", json.dumps({"message": text}), content_type="application/json")
        assert response.status_code == 422
        assert words in response.json()["error"] and "pattern" not in response.json()["error"]


def test_not_configured_says_how_and_stores_nothing(client, settings):
    settings.LLM_MOCK = False
    settings.OPENROUTER_API_KEY = ""
    settings.LLM_API_BASE = ""
    body = send(client, "hello").json()
    assert "not configured" in body["error"] and "OPENROUTER_API_KEY" in body["message"]
    assert ChatMessage.objects.count() == 0


class TestTheModelsReplies:
    def test_the_model_sees_the_portfolio_the_history_and_the_message(self, client, model):
        answers, seen = model
        answers += [json.dumps({"message": "Bought.", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": 2}]}),
                    json.dumps({"message": "Fine."})]
        send(client, "buy 2 AAPL")
        send(client, "and now?")
        system, context, *history, last = seen[1]
        assert "FinAlly" in system["content"]
        facts = json.loads(context["content"].split(": ", 1)[1])
        assert facts["cash"] == 9620.0 and facts["positions"][0]["ticker"] == "AAPL"
        assert {w["ticker"] for w in facts["watchlist"]} >= {"AAPL", "MSFT"}
        assert [m["role"] for m in history] == ["user", "assistant"]
        assert "buy 2 AAPL at 190.0" in history[1]["content"]
        assert last == {"role": "user", "content": "and now?"}

    def test_the_history_writes_quantities_plainly(self, client, model):
        answers, seen = model
        trades = [{"ticker": "AAPL", "side": "buy", "quantity": q} for q in (99999999, 0.00005, "1e3")]
        answers += [json.dumps({"message": "Tried.", "trades": trades}), json.dumps({"message": "Fine."})]
        send(client, "buy lots")
        send(client, "and now?")
        told = seen[1][-2]["content"]
        assert "buy 99,999,999 AAPL rejected" in told and "buy 0.00005 AAPL rejected" in told
        assert "buy 1e3 AAPL rejected" in told and "e+" not in told and "e-" not in told

    def test_the_context_holds_every_position_and_only_the_watchlists_first_tickers(self, client, model, settings):
        settings.ASSISTANT_CONTEXT_WATCHLIST = 4
        settings.WATCHLIST_MAX_TICKERS = 200
        for i in range(150):
            WatchlistEntry.objects.create(ticker=f"ZZ{i}")
        answers, seen = model
        answers += [json.dumps({"message": "Bought.", "trades": [{"ticker": "MSFT", "side": "buy", "quantity": 1}]}),
                    json.dumps({"message": "Fine."})]
        send(client, "buy 1 MSFT")
        WatchlistEntry.objects.filter(ticker="MSFT").delete()  # held, off the watchlist
        send(client, "and now?")
        facts = json.loads(seen[1][1]["content"].split(": ", 1)[1])
        assert [p["ticker"] for p in facts["positions"]] == ["MSFT"]
        shown = [w["ticker"] for w in facts["watchlist"]]
        assert shown == watched_tickers(user_id=DEFAULT_USER)[:4] == ["AAPL", "GOOGL", "AMZN", "TSLA"]
        assert facts["watchlist_not_shown"] == 9 + 150 - 4
        assert len(seen[1][1]["content"]) < 2_000

    @pytest.mark.parametrize(
        "trade, reason",
        [
            ({"ticker": "AAPL", "side": "buy", "quantity": 1e12}, "at most"),
            ({"ticker": "AAPL", "side": "buy", "quantity": -5}, "greater than zero"),
            ({"ticker": "AAPL", "side": "buy", "quantity": "NaN"}, "must be a number"),
            ({"ticker": "../x", "side": "buy", "quantity": 1}, "not a ticker"),
            ({"ticker": "\u0131bm", "side": "buy", "quantity": 1}, "non-ASCII"),
            ({"ticker": "\u00df", "side": "buy", "quantity": 1}, "non-ASCII"),
            ({"ticker": "AAPL", "side": "buy", "quantity": 0.00001}, "4 decimal places"),
            ({"ticker": "AAPL", "side": "short", "quantity": 1}, "'buy' or 'sell'"),
            ({"ticker": "ZZZZ", "side": "buy", "quantity": 1}, "no price"),
            ({"ticker": "AAPL", "side": "buy", "quantity": 1000}, "Not enough cash"),
        ],
    )
    def test_injection_shaped_trades_are_rejected_and_the_books_stay_exact(self, client, model, trade, reason):
        answers, _ = model
        answers.append(json.dumps({"message": "ok", "trades": [trade]}))
        body = send(client, "do it").json()
        assert body["trades"][0]["status"] == "rejected"
        assert reason in body["trades"][0]["error"]
        assert cash() == STARTING_CASH and Trade.objects.count() == 0

    def test_five_hundred_trades_in_one_reply_are_bounded(self, client, model):
        answers, _ = model
        answers.append(
            json.dumps({"message": "go", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": 1}] * 500})
        )
        body = send(client, "buy everything").json()
        statuses = [t["status"] for t in body["trades"]]
        assert statuses.count("executed") == 20 and statuses.count("rejected") == 480
        assert Trade.objects.count() == 20
        assert cash() == STARTING_CASH - 20 * 190

    def test_valid_actions_run_beside_rejected_ones(self, client, model):
        answers, _ = model
        answers.append(json.dumps({
            "message": "mixed",
            "trades": [
                {"ticker": "AAPL", "side": "buy", "quantity": 1}, {"ticker": "AAPL", "side": "sell", "quantity": 9},
            ],
            "watchlist_changes": [{"ticker": "PYPL", "action": "add"}, {"ticker": "<b>", "action": "add"}],
        }))
        body = send(client, "go").json()
        assert [t["status"] for t in body["trades"]] == ["executed", "rejected"]
        assert [c["status"] for c in body["watchlist_changes"]] == ["executed", "rejected"]

    @pytest.mark.parametrize(
        "failure, shown",
        [
            (llm.LLMError("The model provider is rate limiting requests (429): try again in a moment."), "429"),
            ("this is not json", "could not be read"),
            (json.dumps({"trades": []}), "could not be read"),
            (None, "could not be read"),
        ],
    )
    def test_failures_keep_the_users_message_execute_nothing_and_say_why(self, client, model, failure, shown):
        answers, _ = model
        answers.append(failure)
        response = send(client, "buy 1 AAPL")
        assert response.status_code == 200
        body = response.json()
        assert shown in body["error"] and body["message"] == body["error"]
        assert "Nothing was executed" in body["error"]
        assert Trade.objects.count() == 0
        history = client.get("/api/chat/history").json()
        assert [m["role"] for m in history] == ["user", "assistant"] and history[1]["error"]

    def test_a_failed_request_and_its_notice_are_never_sent_back_to_the_model(self, client, model):
        """Nothing of a failed request was executed: sent again, the model could act on it next to the user's
        retry (two purchases for one). The answered turns around it are kept."""
        answers, seen = model
        answers += [json.dumps({"message": "Hello."}), llm.LLMError("boom."), json.dumps({"message": "ok"})]
        send(client, "hi")
        send(client, "buy 10 AAPL")
        send(client, "buy 10 AAPL")
        contents = [m["content"] for m in seen[2][2:]]
        assert contents == ["hi", "Hello.", "buy 10 AAPL"]

    def test_a_request_left_without_an_answer_is_not_sent_back_either(self, client, model):
        answers, seen = model
        ChatMessage.objects.create(role="user", content="buy 5 MSFT")  # its turn was cut off (client went away)
        answers.append(json.dumps({"message": "ok"}))
        send(client, "what do I hold?")
        assert [m["content"] for m in seen[0][2:]] == ["what do I hold?"]

    @pytest.mark.parametrize("quantity", ["1e400", "9" * 5000])
    def test_a_number_no_float_holds_is_rejected_and_the_turn_is_stored(self, client, model, quantity):
        answers, _ = model
        answers.append('{"message": "Bought 5 AAPL \\ud83d", "trades": ['
                       '{"ticker": "AAPL", "side": "buy", "quantity": 5},'
                       ' {"ticker": "MSFT", "side": "buy", "quantity": ' + quantity + "}]}")
        response = send(client, "go")
        assert response.status_code == 200
        body = response.json()
        assert [t["status"] for t in body["trades"]] == ["executed", "rejected"]
        assert body["message"] == "Bought 5 AAPL ?"
        reply = client.get("/api/chat/history").json()[-1]
        assert reply["role"] == "assistant" and reply["actions"]["trades"][0]["status"] == "executed"

    def test_if_the_reply_cannot_be_stored_its_actions_still_are(self, client, model, monkeypatch):
        from django.db import DatabaseError

        answers, _ = model
        answers.append(json.dumps({"message": "Bought.", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": 1}]}))
        create = ChatMessage.objects.create
        calls = []

        def flaky_create(**fields):
            calls.append(fields)
            if fields.get("role") == "assistant" and len([c for c in calls if c.get("role") == "assistant"]) == 1:
                raise DatabaseError("the reply's text was refused")
            return create(**fields)

        monkeypatch.setattr(ChatMessage.objects, "create", flaky_create)
        body = send(client, "buy 1 AAPL").json()
        assert body["trades"][0]["status"] == "executed" and "could not be stored" in body["message"]
        reply = ChatMessage.objects.get(role="assistant")
        assert reply.actions["trades"][0]["status"] == "executed"
        assert Trade.objects.count() == 1


def test_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "post" in paths["/api/chat"] and "get" in paths["/api/chat/history"]


def send_with_id(client, message, client_message_id):
    return client.post("/api/chat", json.dumps({"message": message, "client_message_id": client_message_id}),
                       content_type="application/json")


class TestRetries:
    """A client's own id for a message: a retry gets the first answer and runs nothing again."""

    @pytest.fixture(autouse=True)
    def mock(self, settings):
        settings.LLM_MOCK = True

    def test_a_retry_gets_the_first_answer_and_trades_nothing(self, client):
        first = send_with_id(client, "buy 2 AAPL", "m-1")
        again = send_with_id(client, "buy 2 AAPL", "m-1")
        assert first.status_code == again.status_code == 200
        assert "Idempotent-Replayed" not in first and again["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert Trade.objects.count() == 1 and Position.objects.get().quantity == 2
        assert ChatMessage.objects.filter(role="user").count() == 1

    def test_the_same_id_for_another_message_is_a_conflict(self, client):
        send_with_id(client, "buy 2 AAPL", "m-1")
        response = send_with_id(client, "buy 3 AAPL", "m-1")
        assert response.status_code == 409 and "different message" in response.json()["error"]
        assert Trade.objects.count() == 1

    def test_a_retry_while_the_first_is_being_answered_is_told_to_wait(self, client):
        from django.utils import timezone

        ChatMessage.objects.create(role="user", content="buy 2 AAPL", client_message_id="m-1",
                                   answering_since=timezone.now())
        response = send_with_id(client, "buy 2 AAPL", "m-1")
        assert response.status_code == 409 and "still being answered" in response.json()["error"]
        assert Trade.objects.count() == 0

    def test_a_message_whose_turn_was_cut_off_long_ago_is_answered_once(self, client):
        from datetime import timedelta

        from django.utils import timezone

        ChatMessage.objects.create(role="user", content="buy 2 AAPL", client_message_id="m-1",
                                   answering_since=timezone.now() - timedelta(hours=1))
        assert send_with_id(client, "buy 2 AAPL", "m-1").json()["trades"][0]["status"] == "executed"
        assert send_with_id(client, "buy 2 AAPL", "m-1")["Idempotent-Replayed"] == "true"
        assert Trade.objects.count() == 1 and ChatMessage.objects.filter(role="user").count() == 1

    @pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "é", 5])
    def test_a_malformed_id_is_refused(self, client, bad):
        response = send_with_id(client, "buy 1 AAPL", bad)
        assert response.status_code in (400, 422) and response.json()["error"]
        assert ChatMessage.objects.count() == 0


def test_a_retry_after_a_failed_turn_is_answered_again(client, model):
    answers, seen = model
    answers += [llm.LLMError("The model provider is rate limiting requests (429)."),
                json.dumps({"message": "Bought.", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": 1}]})]
    assert send_with_id(client, "buy 1 AAPL", "m-1").json()["error"]
    retried = send_with_id(client, "buy 1 AAPL", "m-1")
    assert "Idempotent-Replayed" not in retried and retried.json()["trades"][0]["status"] == "executed"
    assert len(seen) == 2 and Trade.objects.count() == 1
    assert send_with_id(client, "buy 1 AAPL", "m-1")["Idempotent-Replayed"] == "true"
    assert len(seen) == 2 and Trade.objects.count() == 1


class TestTurnBudget:
    def test_past_the_budget_a_turn_is_429_with_retry_after_and_nothing_is_kept(self, client, settings):
        settings.LLM_MOCK = True
        settings.ASSISTANT_TURNS_PER_MINUTE = 2
        for n in range(2):
            assert client.post("/api/chat", {"message": f"hi {n}"}, content_type="application/json").status_code == 200
        response = client.post("/api/chat", {"message": "one more"}, content_type="application/json")
        assert response.status_code == 429
        assert "at most 2 messages a minute" in response.json()["error"]
        assert 1 <= int(response["Retry-After"]) <= 60
        assert not ChatMessage.objects.filter(content="one more").exists()

    def test_the_budget_is_per_account(self, client, settings):
        from assistant import services

        settings.LLM_MOCK = True
        settings.ASSISTANT_TURNS_PER_MINUTE = 1
        Profile.objects.create(id="other")
        assert client.post("/api/chat", {"message": "hi"}, content_type="application/json").status_code == 200
        turn = async_to_sync(services.chat)(user_id="other", message="hello")
        assert turn.error is None


class TestTurnBudgetOnRetries:
    def test_asking_a_failed_message_again_spends_a_turn_too(self, client, settings, model):
        answers, seen = model
        settings.ASSISTANT_TURNS_PER_MINUTE = 3
        answers.extend([llm.LLMError("The model did not answer.")] * 5)
        body = {"message": "write me an essay", "client_message_id": "essay-1"}
        statuses = [client.post("/api/chat", body, content_type="application/json").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert len(seen) == 3  # the model was called once per turn the budget allowed, no more

    def test_an_answered_turn_counts_once(self, client, settings):
        settings.LLM_MOCK = True
        settings.ASSISTANT_TURNS_PER_MINUTE = 2
        assert client.post("/api/chat", {"message": "a"}, content_type="application/json").status_code == 200
        assert client.post("/api/chat", {"message": "b"}, content_type="application/json").status_code == 200
        assert client.post("/api/chat", {"message": "c"}, content_type="application/json").status_code == 429
