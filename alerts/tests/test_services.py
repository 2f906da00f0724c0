"""alerts.services: making and canceling alerts, and the worker firing them, as a table of prices and levels."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from alerts import selectors, services
from alerts.exceptions import AlertNotActive, InvalidAlert, NoSuchAlert, TooManyAlerts
from alerts.models import Alert
from core import metrics
from core.db import DEFAULT_USER
from portfolio.models import Profile

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def tick(publish, django_capture_on_commit_callbacks):
    """One tick as the worker makes it: the prices published, then the alerts checked, and what is told at the
    commit told (the test's own transaction never commits)."""

    def _tick(prices: dict[str, float], **extra) -> int:
        publish(prices, keep={"AAPL", "MSFT", "TSLA", "NVDA"}, **extra)
        with django_capture_on_commit_callbacks(execute=True):
            return services.check_tick(set(prices))

    return _tick


def make(ticker="AAPL", condition="above", price="200", user_id=DEFAULT_USER) -> Alert:
    return services.create_alert(user_id=user_id, ticker=ticker, condition=condition, price=price)


def version() -> int:
    return Profile.objects.get(pk=DEFAULT_USER).version


@pytest.mark.parametrize(
    "condition, level, price, fires",
    [
        ("above", "200", 199.99, False),
        ("above", "200", 200.00, True),  # at the level is reached
        ("above", "200", 200.01, True),
        ("below", "150", 150.01, False),
        ("below", "150", 150.00, True),
        ("below", "150", 149.50, True),
        ("above", "0.5", 0.5001, True),  # under $1, to 4 decimals
        ("below", "0.5", 0.5001, False),
    ],
)
def test_an_alert_fires_when_a_live_price_reaches_its_level(tick, condition, level, price, fires):
    alert = make(condition=condition, price=level)
    assert tick({"AAPL": price}) == int(fires)
    alert.refresh_from_db()
    assert alert.status == ("fired" if fires else "active")
    if fires:
        assert alert.fired_price == D(str(price)) and alert.fired_at is not None


def test_an_alert_fires_once_however_often_the_price_stays_there(tick):
    alert = make(price="200")
    before = metrics.REGISTRY.get_sample_value("finally_alerts_fired_total") or 0
    assert tick({"AAPL": 201}) == 1
    assert tick({"AAPL": 202}) == 0
    assert tick({"AAPL": 203}) == 0
    alert.refresh_from_db()
    assert alert.status == "fired" and alert.fired_price == D("201")
    assert (metrics.REGISTRY.get_sample_value("finally_alerts_fired_total") or 0) - before == 1


def test_a_stale_price_fires_nothing(tick, publish):
    make(price="200")
    # A tick whose quotes the worker received long ago: not a price the user sees as live.
    import time

    assert tick({"AAPL": 250}, produced_at=time.time() - 3600) == 0
    assert Alert.objects.get().status == "active"


def test_firing_moves_the_books_version_so_open_pages_hear_of_it(tick):
    make(price="200")
    before = version()
    tick({"AAPL": 210})
    assert version() > before


def test_firing_is_logged_with_the_alerts_id(tick, caplog):
    alert = make(price="200")
    with caplog.at_level(logging.INFO, logger="alerts.services"):
        tick({"AAPL": 210})
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "alert.fired"]
    assert record.alert_id == alert.id and alert.id in record.getMessage()


def test_several_alerts_on_several_tickers_fire_together(tick):
    a = make("AAPL", "above", "200")
    b = make("MSFT", "below", "400")
    c = make("MSFT", "above", "500")
    assert tick({"AAPL": 205, "MSFT": 390}) == 2
    assert [Alert.objects.get(pk=x.pk).status for x in (a, b, c)] == ["fired", "fired", "active"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"ticker": "AAPL", "condition": "sideways", "price": "200"}, "condition must be above or below"),
        ({"ticker": "AAPL", "condition": "above", "price": "-1"}, "price must be greater than zero"),
        ({"ticker": "AAPL", "condition": "above", "price": "200.001"}, "whole cents"),
        ({"ticker": "AAPL", "condition": "above", "price": "abc"}, "must be a number"),
        ({"ticker": "ZZZZ", "condition": "above", "price": "10"}, "ZZZZ is not on your watchlist"),
        ({"ticker": "BAD!", "condition": "above", "price": "10"}, "is not a ticker"),
    ],
)
def test_a_bad_alert_is_refused_with_the_reason_and_nothing_is_made(fields, message):
    with pytest.raises(InvalidAlert, match=message):
        services.create_alert(user_id=DEFAULT_USER, **fields)
    assert not Alert.objects.exists()


def test_conditions_also_read_as_signs():
    assert make(condition=">", price="10").condition == "above"
    assert make(condition="<=", price="10").condition == "below"


def test_the_active_alerts_of_a_book_have_a_cap(settings):
    settings.ALERTS_MAX_ACTIVE = 3
    for level in ("201", "202", "203"):
        make(price=level)
    with pytest.raises(TooManyAlerts, match="3 active alerts"):
        make(price="204")
    services.cancel_alert(user_id=DEFAULT_USER, alert_id=Alert.objects.first().pk)
    make(price="204")  # a canceled one frees its place


def test_cancel_an_active_alert_and_not_a_fired_or_anothers(tick):
    alert = make(price="200")
    canceled = services.cancel_alert(user_id=DEFAULT_USER, alert_id=alert.pk)
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert tick({"AAPL": 300}) == 0  # a canceled alert never fires
    with pytest.raises(AlertNotActive, match="canceled"):
        services.cancel_alert(user_id=DEFAULT_USER, alert_id=alert.pk)
    fired = make(price="250")
    tick({"AAPL": 260})
    with pytest.raises(AlertNotActive, match="fired"):
        services.cancel_alert(user_id=DEFAULT_USER, alert_id=fired.pk)
    with pytest.raises(NoSuchAlert):
        services.cancel_alert(user_id="someone-else", alert_id=fired.pk)


def test_an_active_alert_keeps_its_ticker_priced_and_the_history_is_kept(tick):
    alert = make("TSLA", "below", "100")
    assert selectors.alert_tickers() == {"TSLA"}
    assert selectors.alert_tickers(user_id=DEFAULT_USER) == {"TSLA"}
    tick({"TSLA": 90})
    assert selectors.alert_tickers() == set()
    assert [a.pk for a in selectors.alerts(user_id=DEFAULT_USER, status="history")] == [alert.pk]
    assert selectors.alerts(user_id=DEFAULT_USER, status="active") == []
    assert [a.pk for a in selectors.recently_fired(user_id=DEFAULT_USER, seconds=60)] == [alert.pk]


def test_the_history_is_in_the_order_things_happened(tick):
    fired_later = make("AAPL", "above", "200")  # made first, fires last
    canceled = make("MSFT", "above", "900")
    services.cancel_alert(user_id=DEFAULT_USER, alert_id=canceled.pk)
    tick({"AAPL": 201})
    history = selectors.alerts(user_id=DEFAULT_USER, status="history")
    assert [a.pk for a in history] == [fired_later.pk, canceled.pk]


def test_the_history_of_a_book_is_bounded(monkeypatch):
    monkeypatch.setattr(services, "HISTORY_MAX", 3)
    for level in range(1, 7):
        services.cancel_alert(user_id=DEFAULT_USER, alert_id=make(price=str(level)).pk)
    make(price="99")
    kept = selectors.alerts(user_id=DEFAULT_USER, status="history")
    assert [a.price for a in kept] == [D(6), D(5), D(4)]  # the newest three; the active one is not history
    assert Alert.objects.filter(status="active").count() == 1
