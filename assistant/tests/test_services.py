"""A chat turn that meets a database error after its actions ran (assistant/services.py): it ends in a definite
state, and what the history says about it is true."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.utils import timezone

from assistant.models import ChatMessage
from core.db import DEFAULT_USER
from market.selectors import watched_tickers
from portfolio.models import STARTING_CASH, Position, Profile, Trade

pytestmark = pytest.mark.django_db

BUY = json.dumps({"message": "Bought 2 AAPL.", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": 2}],
                  "watchlist_changes": [{"ticker": "PYPL", "action": "add"}]})


@pytest.fixture(autouse=True)
def prices(publish):
    publish({"AAPL": 190.0})


def failing_saves(monkeypatch, *, failures_too: bool):
    """The database refuses the assistant's reply (and, with failures_too, its failure notice as well) after the
    turn's actions ran: as a disk that filled up, or a database that went away, would."""
    save = ChatMessage.save

    def refuse(self, *args, **kwargs):
        if self.role == ChatMessage.Role.ASSISTANT and (failures_too or not self.error):
            raise OperationalError("disk I/O error")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(ChatMessage, "save", refuse)
    return lambda: monkeypatch.setattr(ChatMessage, "save", save)


def send(client, message, client_message_id):
    return client.post("/api/chat", json.dumps({"message": message, "client_message_id": client_message_id}),
                       content_type="application/json")


def assert_nothing_done():
    assert Trade.objects.count() == 0 and Position.objects.count() == 0
    assert Profile.objects.get().cash_balance == STARTING_CASH
    assert "PYPL" not in watched_tickers(user_id=DEFAULT_USER)


def test_a_reply_that_cannot_be_stored_undoes_its_actions_and_says_so(client, model, monkeypatch):
    answers, seen = model
    answers += [BUY, BUY]
    restore = failing_saves(monkeypatch, failures_too=False)
    response = send(client, "buy 2 AAPL and watch PYPL", "m-1")
    assert response.status_code == 200
    body = response.json()
    assert "nothing it asked for was done" in body["error"] and body["trades"] == []
    assert_nothing_done()
    # A definite end: the request and the notice are in the history, and the message is free to be sent again.
    asked = ChatMessage.objects.get(role="user")
    assert asked.answering_since is None
    assert [(m.role, bool(m.error)) for m in ChatMessage.objects.all()] == [("user", False), ("assistant", True)]

    restore()
    retried = send(client, "buy 2 AAPL and watch PYPL", "m-1").json()
    assert retried["trades"][0]["status"] == "executed" and retried["watchlist_changes"][0]["status"] == "executed"
    assert Trade.objects.count() == 1 and Position.objects.get().quantity == 2
    assert "PYPL" in watched_tickers(user_id=DEFAULT_USER)
    # The model was asked again knowing no more than the truth: nothing of the failed turn was sent as done.
    assert len(seen) == 2 and all("what happened" not in m["content"] for m in seen[1])
    assert send(client, "buy 2 AAPL and watch PYPL", "m-1")["Idempotent-Replayed"] == "true"
    assert Trade.objects.count() == 1


def test_a_turn_whose_database_fails_after_its_trades_fills_nothing_and_a_retry_fills_once(client, model, monkeypatch):
    answers, seen = model
    answers += [BUY, json.dumps({"message": "ok"}), BUY]
    restore = failing_saves(monkeypatch, failures_too=True)
    response = send(client, "buy 2 AAPL and watch PYPL", "m-1")
    assert response.status_code == 503
    assert_nothing_done()
    restore()

    # The next turn's history: the request got no answer, and it executed nothing, so it is left out as such.
    send(client, "what do I hold?", "m-2")
    assert [m["content"] for m in seen[1][2:]] == ["what do I hold?"]

    # Once the cut-off turn lets go of it (by age), a retry asks the model again and fills exactly once.
    ChatMessage.objects.filter(client_message_id="m-1").update(answering_since=timezone.now() - timedelta(hours=1))
    retried = send(client, "buy 2 AAPL and watch PYPL", "m-1").json()
    assert retried["trades"][0]["status"] == "executed"
    assert Trade.objects.count() == 1 and Position.objects.get().quantity == Decimal(2)
    assert send(client, "buy 2 AAPL and watch PYPL", "m-1")["Idempotent-Replayed"] == "true"
    assert Trade.objects.count() == 1 and len(seen) == 3


@pytest.mark.django_db(transaction=True)
def test_chat_turns_and_resets_at_once_never_deadlock(publish):
    """A turn's watchlist changes come before its trades, in one transaction; it takes the profile row first, as
    a trade and a reset do, or it would hold a watchlist row the reset deletes while waiting for the profile."""
    import threading
    import time

    from django.db import connection

    from assistant.reply import ParsedReply
    from assistant.services import _act_and_store
    from portfolio import services as portfolio_services

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (pytest --postgres)")
    publish({"AAPL": 190.0})
    errors: list[BaseException] = []
    done = threading.Event()
    parsed = ParsedReply(
        message="Done.",
        trades=[{"ticker": "AAPL", "side": "buy", "quantity": 1}],
        watchlist_changes=[{"ticker": "NFLX", "action": "remove"}, {"ticker": "NFLX", "action": "add"}],
    )

    def chatter() -> None:
        try:
            while not done.is_set():
                asked = ChatMessage.objects.create(role=ChatMessage.Role.USER, content="swap NFLX, buy 1 AAPL")
                _act_and_store(user_id="default", asked_id=asked.id, parsed=parsed)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def resetter() -> None:
        try:
            for _ in range(15):
                time.sleep(0.05)
                portfolio_services.reset(user_id=DEFAULT_USER)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=chatter) for _ in range(3)] + [threading.Thread(target=resetter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    # Every fill since the last reset has its turn's reply, and the reply lists it.
    replies = ChatMessage.objects.filter(role="assistant")
    listed = sum(1 for reply in replies if reply.actions["trades"][0]["status"] == "executed")
    assert Trade.objects.count() == listed == sum(p.quantity for p in Position.objects.all())


def test_the_model_is_told_the_open_orders_and_the_buying_power():
    from assistant import selectors
    from portfolio import orders

    assert "open_orders" not in json.loads(selectors.context(user_id=DEFAULT_USER).as_json())
    order = orders.place_order(user_id=DEFAULT_USER, ticker="AAPL", side="buy", qty="2", type="limit",
                               limit_price="100", time_in_force="gtc")
    told = json.loads(selectors.context(user_id=DEFAULT_USER).as_json())
    assert told["buying_power"] == 9800.0
    assert told["open_orders"] == [{"id": order.id[-8:], "type": "limit", "side": "buy", "ticker": "AAPL", "qty": 2.0,
                                    "limit_price": 100.0, "stop_price": None, "time_in_force": "gtc"}]


def test_the_assistant_sets_and_cancels_alerts_and_the_model_is_told_them(client, model):
    """A reply's `alerts` are set (one refused alone, with its reason); the next turn's context lists the active
    ones by the id the page shows, and `cancel_orders` with that id cancels the alert."""
    from alerts.models import Alert

    answers, seen = model
    answers.append(json.dumps({"message": "Set.", "alerts": [
        {"ticker": "AAPL", "condition": "above", "price": 200},
        {"ticker": "ZZZZ", "condition": "below", "price": 5},
    ]}))
    turn = send(client, "alert me when AAPL passes 200", "m-1").json()
    set_alert, refused = turn["alerts"]
    alert = Alert.objects.get()
    assert set_alert == {"ticker": "AAPL", "condition": "above", "price": 200.0, "status": "executed",
                         "alert_id": alert.id, "error": None}
    assert refused["status"] == "rejected" and "ZZZZ is not on your watchlist" in refused["error"]
    answers.append(json.dumps({"message": "Canceled.", "cancel_orders": [alert.id[-8:]]}))
    turn = send(client, "cancel that alert", "m-2").json()
    assert turn["cancels"][0]["status"] == "executed"
    told = json.loads(seen[-1][1]["content"].split("(JSON): ", 1)[1])
    assert told["alerts"] == [{"id": alert.id[-8:], "ticker": "AAPL", "condition": "above", "price": 200.0}]
    assert "alert AAPL above 200.0 set as alert " + alert.id[-8:] in seen[-1][-2]["content"]  # what happened
    alert.refresh_from_db()
    assert alert.status == "canceled"


def test_the_mock_sets_an_alert(client, settings):
    from alerts.models import Alert

    settings.LLM_MOCK = True
    turn = send(client, "alert aapl > 200 and alert tsla below 150.5", "m-3").json()
    assert turn["message"] == "Mock assistant: alert AAPL above 200.0; alert TSLA below 150.5."
    assert [a["status"] for a in turn["alerts"]] == ["executed", "executed"]
    assert sorted(Alert.objects.values_list("ticker", "condition")) == [("AAPL", "above"), ("TSLA", "below")]
