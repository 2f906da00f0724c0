"""Price alerts: made and canceled by their owner (the API, the command line, the assistant), fired by the price
worker right after each tick (`check_tick`, a market tick listener, as resting orders are matched).

An alert fires on a live price only, by the same rule a resting order fills by (portfolio.orders.live_prices): a
late feed or an end-of-day close fires nothing. It fires once: the worker's UPDATE takes only an alert still
active, so a second worker, a tick repeated after a restart or a cancel at the same moment cannot fire it again.
Its owner's open pages hear of it at once: firing moves the book's version, as a fill does (market.hub), and the
page shows the alert in its panel and as a toast.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alerts.exceptions import AlertNotActive, InvalidAlert, NoSuchAlert, TooManyAlerts
from alerts.models import Alert
from core import metrics
from core.db import batchable
from market import selectors as market_selectors
from market.exceptions import InvalidTicker
from market.tickers import normalize_ticker
from portfolio import events, trade_sql
from portfolio import services as portfolio_services
from portfolio.orders import live_prices
from webhooks import services as webhooks

logger = logging.getLogger(__name__)

CONDITIONS = {"above": Alert.Condition.ABOVE, "below": Alert.Condition.BELOW, ">": Alert.Condition.ABOVE,
              ">=": Alert.Condition.ABOVE, "<": Alert.Condition.BELOW, "<=": Alert.Condition.BELOW}
# Alerts fired per tick at most: a level thousands of alerts share fires over a few ticks, and one transaction holds
# the books' locks of a few hundred at most.
FIRE_BATCH = 200
# A book's history (fired and canceled alerts) is kept to its newest this many: a client setting and canceling
# alerts in a loop grows nothing without bound.
HISTORY_MAX = 500
TICKERS_PER_QUERY = 200


def clean(*, ticker: object, condition: object, price: object) -> tuple[str, str, Decimal]:
    try:
        ticker = normalize_ticker(ticker)
    except InvalidTicker as exc:
        raise InvalidAlert(str(exc)) from None
    if not isinstance(condition, str) or condition.strip().lower() not in CONDITIONS:
        raise InvalidAlert("condition must be above or below.")
    problem = portfolio_services.price_problem(price)
    if problem is not None:
        raise InvalidAlert(f"price {problem}.")
    return ticker, CONDITIONS[condition.strip().lower()], portfolio_services.to_price(price)


def _tell(alert: Alert, event: str, message: str) -> None:
    """Logged with the alert's id when the transaction commits (never for a change rolled back), in the caller's
    context (its request's id)."""
    def tell() -> None:
        if event == "alert.fired":
            metrics.ALERTS_FIRED.inc()
        logger.info("alert %s %s", alert.id, message, extra={"alert_id": alert.id, "event": event})

    events.on_commit(tell)


@batchable
@transaction.atomic
def create_alert(*, user_id: str, ticker: object, condition: object, price: object) -> Alert:
    """An active alert on a ticker the user watches or holds (the worker prices only those, and keeps the ticker
    priced while the alert is active); at most ALERTS_MAX_ACTIVE active per book."""
    ticker, condition, price = clean(ticker=ticker, condition=condition, price=price)
    portfolio_services.lock_book(user_id=user_id)  # the cap below is counted under the book's lock
    watched = set(market_selectors.watched_tickers(user_id=user_id))
    if ticker not in watched and ticker not in market_selectors.kept_tickers(user_id=user_id):
        raise InvalidAlert(f"{ticker} is not on your watchlist: add it first, so it is priced.")
    limit = settings.ALERTS_MAX_ACTIVE
    if Alert.objects.filter(user_id=user_id, status=Alert.Status.ACTIVE).count() >= limit:
        raise TooManyAlerts(f"You have {limit} active alerts, the most there can be: cancel one first.")
    alert = Alert.objects.create(user_id=user_id, ticker=ticker, condition=condition, price=price)
    old = (Alert.objects.filter(user_id=user_id).exclude(status=Alert.Status.ACTIVE).order_by("-created_at")
           .values_list("id", flat=True)[HISTORY_MAX:HISTORY_MAX + 100])
    Alert.objects.filter(pk__in=list(old)).delete()
    with trade_sql.cursor() as cursor:
        trade_sql.bump_version(cursor, user_id)
    _tell(alert, "alert.created", f"created: {alert}")
    return alert


@batchable
@transaction.atomic
def cancel_alert(*, user_id: str, alert_id: str) -> Alert:
    portfolio_services.lock_book(user_id=user_id)
    alert = Alert.objects.filter(user_id=user_id, pk=alert_id).first()
    if alert is None:
        raise NoSuchAlert("There is no such alert.")
    if alert.status != Alert.Status.ACTIVE:
        raise AlertNotActive(f"This alert has {'fired' if alert.status == Alert.Status.FIRED else 'been canceled'}"
                             ": there is nothing to cancel.")
    alert.status, alert.canceled_at = Alert.Status.CANCELED, timezone.now()
    alert.save(update_fields=["status", "canceled_at"])
    with trade_sql.cursor() as cursor:
        trade_sql.bump_version(cursor, user_id)
    _tell(alert, "alert.canceled", f"canceled: {alert}")
    return alert


def reached_alerts(prices: dict[str, Decimal]) -> list[tuple[str, str, str]]:
    """(id, user, ticker) of every active alert these prices reach: two index range reads per ticker over the active
    alerts' (ticker, condition, price) index, so the cost follows the alerts reached, not the alerts set."""
    tickers = sorted(prices)
    found: list[tuple[str, str, str]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(tickers), TICKERS_PER_QUERY):
            parts, params = [], []
            for ticker in tickers[start:start + TICKERS_PER_QUERY]:
                for condition, compare in (("above", "<="), ("below", ">=")):
                    parts.append("SELECT id, user_id, ticker FROM alerts WHERE status = 'active' AND ticker = %s"
                                 f" AND condition = %s AND price {compare} %s")
                    params += [ticker, condition, prices[ticker]]
            cursor.execute(" UNION ALL ".join(parts) + f" LIMIT {FIRE_BATCH}", params)
            found += cursor.fetchall()
            if len(found) >= FIRE_BATCH:
                return found[:FIRE_BATCH]
    return found


def check_tick(tickers) -> int:
    """The worker's step after each tick: fire the active alerts this tick's live prices reach; how many fired."""
    live, _ = live_prices(tickers)
    if not live:
        return 0
    reached = reached_alerts(live)
    if not reached:
        return 0
    return _fire(reached, live)


@transaction.atomic
def _fire(reached: list[tuple[str, str, str]], live: dict[str, Decimal]) -> int:
    users = sorted({user for _, user, _ in reached})
    now = timezone.now()
    fired = 0
    with trade_sql.cursor() as cursor:
        trade_sql.lock_books(cursor, users)  # in id order, as the matcher and the snapshot take them
        for alert_id, _user, ticker in reached:
            # Only if still active: a cancel that came first, or another worker's tick, leaves it as it is.
            if Alert.objects.filter(pk=alert_id, status=Alert.Status.ACTIVE).update(
                status=Alert.Status.FIRED, fired_at=now, fired_price=live[ticker]
            ):
                fired += 1
                alert = Alert.objects.get(pk=alert_id)
                webhooks.record(user_id=alert.user_id, event="alert.fired", at=now, data={
                    "alert_id": alert.id, "ticker": alert.ticker, "condition": alert.condition,
                    "price": float(alert.price), "fired_price": float(live[ticker]),
                    "fired_at": now.isoformat(timespec="milliseconds")})
                _tell(alert, "alert.fired", f"fired: {alert} at {live[ticker]}")
        for user in users:
            trade_sql.bump_version(cursor, user)
    return fired
