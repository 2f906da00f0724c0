"""The admin: every table inspectable; the trade log and snapshots read-only; reset hard to trigger."""

import pytest
from django.urls import reverse

from assistant.models import ChatMessage
from core.db import DEFAULT_USER
from portfolio import services
from portfolio.models import PortfolioSnapshot, Position, Profile, Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def traded(publish):
    publish({"AAPL": 100.0})
    services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=10)
    ChatMessage.objects.create(role="user", content="buy 10 AAPL")
    return Trade.objects.get()


@pytest.mark.parametrize(
    "model", ["portfolio.trade", "portfolio.order", "portfolio.position", "portfolio.portfoliosnapshot",
              "portfolio.profile", "market.watchlistentry", "assistant.chatmessage"]
)
def test_changelists_render(admin_client, traded, model):
    app, name = model.split(".")
    response = admin_client.get(reverse(f"admin:{app}_{name}_changelist"))
    assert response.status_code == 200


def test_trade_list_filters_and_shows_the_trade(admin_client, traded):
    url = reverse("admin:portfolio_trade_changelist")
    page = admin_client.get(url, {"side": "buy", "ticker": "AAPL"}).content.decode()
    assert "AAPL" in page and "1000.00" in page  # the notional column
    assert admin_client.get(url, {"side": "sell"}).context["cl"].result_count == 0


def test_position_list_shows_market_value(admin_client, traded, publish):
    publish({"AAPL": 110.0})
    page = admin_client.get(reverse("admin:portfolio_position_changelist")).content.decode()
    assert "1,100.00" in page


def test_trade_log_cannot_be_edited_added_or_deleted(admin_client, traded):
    change = reverse("admin:portfolio_trade_change", args=[traded.pk])
    page = admin_client.get(change)
    assert page.status_code == 200  # viewable
    assert 'name="_save"' not in page.content.decode()
    response = admin_client.post(change, {"ticker": "MSFT", "side": "sell", "quantity": "1", "price": "1"})
    assert response.status_code == 403
    delete = admin_client.post(reverse("admin:portfolio_trade_delete", args=[traded.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert admin_client.get(reverse("admin:portfolio_trade_add")).status_code == 403
    bulk = admin_client.post(
        reverse("admin:portfolio_trade_changelist"),
        {"action": "delete_selected", "_selected_action": [traded.pk], "post": "yes"},
    )
    assert Trade.objects.filter(pk=traded.pk).exists()
    assert bulk.status_code in (200, 302)
    assert Trade.objects.get(pk=traded.pk).ticker == "AAPL"


def test_snapshots_are_read_only(admin_client, traded):
    snapshot = PortfolioSnapshot.objects.first()
    delete = admin_client.post(reverse("admin:portfolio_portfoliosnapshot_delete", args=[snapshot.pk]), {"post": "yes"})
    assert delete.status_code == 403


def test_reset_action_needs_the_word_typed(admin_client, traded):
    url = reverse("admin:portfolio_profile_changelist")
    selection = {"action": "reset_portfolio", "_selected_action": ["default"]}
    confirm_page = admin_client.post(url, selection)
    assert confirm_page.status_code == 200
    assert "cannot be undone" in confirm_page.content.decode()
    assert Position.objects.count() == 1

    admin_client.post(url, {**selection, "confirmation": "yes"})
    assert Position.objects.count() == 1

    admin_client.post(url, {**selection, "confirmation": "reset"})
    assert Position.objects.count() == Trade.objects.count() == ChatMessage.objects.count() == 0
    assert Profile.objects.get().cash_balance == 10000


def test_admin_requires_login(client):
    response = client.get(reverse("admin:portfolio_trade_changelist"))
    assert response.status_code == 302


def test_position_list_reads_the_price_store_once_per_page(admin_client, traded, publish, price_store, monkeypatch):
    publish({"AAPL": 110.0, "MSFT": 200.0})
    services.execute_trade(user_id=DEFAULT_USER, ticker="MSFT", side="buy", quantity=1)
    reads = []
    original = price_store.quotes
    monkeypatch.setattr(price_store, "quotes", lambda tickers=None: reads.append(tickers) or original(tickers))
    monkeypatch.setattr(price_store, "latest", lambda ticker: pytest.fail("per-row store read"))
    page = admin_client.get(reverse("admin:portfolio_position_changelist")).content.decode()
    assert "1,100.00" in page and "200.00" in page
    assert len(reads) == 1 and sorted(reads[0]) == ["AAPL", "MSFT"]
