"""Two accounts on one deployment: each sees and changes its own book only, and B gets a 404 for anything of A's
that a route names (trades, orders, chat messages, tokens), never A's data."""

import pytest
from django.test import Client

from accounts import services
from assistant.models import ChatMessage

pytestmark = pytest.mark.django_db

ORDER = {"ticker": "AAPL", "side": "buy", "quantity": 3, "client_order_id": "same-id-for-both"}


@pytest.fixture
def two(accounts_on, signed_in, publish):
    publish({"AAPL": 100.0, "MSFT": 200.0})
    return signed_in("alice"), signed_in("bob")


def order(client, body=ORDER):
    return client.post("/api/portfolio/trade", body, content_type="application/json")


def test_books_are_apart(two):
    alice, bob = two
    assert order(alice).status_code == 201
    # The same client_order_id from another account is another order, not a replay of alice's.
    response = order(bob, {**ORDER, "quantity": 1})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert alice.get("/api/portfolio").json()["cash_balance"] == 9700.0
    assert bob.get("/api/portfolio").json()["cash_balance"] == 9900.0
    assert [t["quantity"] for t in alice.get("/api/trades").json()["trades"]] == [3.0]
    assert [t["quantity"] for t in bob.get("/api/trades").json()["trades"]] == [1.0]


def test_a_new_account_starts_with_10000_and_the_default_watchlist(two):
    _, bob = two
    assert bob.get("/api/portfolio").json()["positions"] == []
    assert len(bob.get("/api/watchlist").json()) == 10


def test_watchlists_are_apart(two):
    alice, bob = two
    assert alice.post("/api/watchlist", {"ticker": "PYPL"}, content_type="application/json").status_code == 201
    assert "PYPL" in [q["ticker"] for q in alice.get("/api/watchlist").json()]
    assert "PYPL" not in [q["ticker"] for q in bob.get("/api/watchlist").json()]
    assert bob.delete("/api/watchlist/PYPL").status_code == 404


def test_another_accounts_trade_is_a_404_as_a_cursor(two):
    alice, bob = two
    trade_id = order(alice).json()["id"]
    response = bob.get(f"/api/trades?before={trade_id}")
    assert response.status_code == 404
    assert alice.get(f"/api/trades?before={trade_id}").status_code == 200


def test_another_accounts_order_is_a_404_and_stays_open(two):
    alice, bob = two
    resting = alice.post("/api/orders", {"ticker": "AAPL", "side": "buy", "qty": 1, "type": "limit",
                                         "limit_price": 90, "client_order_id": "same-id-for-both"},
                         content_type="application/json").json()
    assert bob.get(f"/api/orders/{resting['id']}").status_code == 404
    assert bob.delete(f"/api/orders/{resting['id']}").status_code == 404
    assert bob.get("/api/orders?status=all").json() == []
    assert bob.delete("/api/orders").json() == {"canceled": 0}
    assert bob.get("/api/portfolio").json()["buying_power"] == 10000.0
    assert alice.get(f"/api/orders/{resting['id']}").json()["status"] == "new"
    assert alice.get("/api/portfolio").json()["buying_power"] == 9910.0


def test_pages_and_panels_show_only_ones_own_book(two):
    alice, bob = two
    order(alice)

    def panel(client, name):
        return client.get(f"/panels/{name}", HTTP_HX_REQUEST="true").content.decode()

    assert "9,700.00" in panel(alice, "summary") and "10,000.00" in panel(bob, "summary")
    assert "AAPL" in panel(alice, "positions")
    assert "AAPL" not in panel(bob, "positions") and "AAPL" not in panel(bob, "blotter")
    assert "9,700.00" not in bob.get("/").content.decode()


def test_chat_history_is_apart(two, settings):
    settings.LLM_MOCK = True
    alice, bob = two
    response = alice.post("/api/chat", {"message": "hello there", "client_message_id": "m-1"},
                          content_type="application/json")
    assert response.status_code == 200
    assert [m["content"] for m in alice.get("/api/chat/history").json()][0] == "hello there"
    assert bob.get("/api/chat/history").json() == []
    # bob sending alice's client_message_id is his own new message, not a replay of her turn
    response = bob.post("/api/chat", {"message": "hi", "client_message_id": "m-1"}, content_type="application/json")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert ChatMessage.objects.filter(client_message_id="m-1").count() == 2


def test_another_accounts_token_is_a_404(two):
    alice, bob = two
    from django.contrib.auth.models import User

    row, _ = services.issue_token(user=User.objects.get(username="alice"), name="alice's bot")
    response = bob.delete(f"/api/auth/tokens/{row.id}")
    assert response.status_code == 404
    assert bob.get("/api/auth/tokens").json() == []
    assert [t["name"] for t in alice.get("/api/auth/tokens").json()] == ["alice's bot"]
    assert bob.post(f"/account/tokens/{row.id}/revoke").status_code == 404
    assert alice.delete(f"/api/auth/tokens/{row.id}").status_code == 204


def test_a_token_acts_for_its_own_account_only(two):
    alice, _ = two
    from django.contrib.auth.models import User

    _, token = services.issue_token(user=User.objects.get(username="bob"), name="bob's bot")
    order(alice)
    bot = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bot.get("/api/portfolio").json()["cash_balance"] == 10000.0
    assert bot.get("/api/trades").json()["trades"] == []
