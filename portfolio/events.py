"""What happens to orders, told in one place: every order placed, filled, canceled, expired or rejected is logged
with its order's id (a JSON log line carries it as `order_id`: LOG_FORMAT=json) and counted (core.metrics); a fill
and a cancel are also written to the book's webhook outbox (webhooks.services.record), in the event's own
transaction, for the worker to deliver.

Each is told when its transaction commits (`transaction.on_commit`), never for a change that was rolled back: a
fill in a batch whose commit failed was not a fill. Outside a transaction it is told at once. A refusal (nothing
was recorded, so there is no order id) is counted and left to the caller to answer; it is not logged, as the user
is told why and a refused order is not an event of the book.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import transaction

from core import metrics
from portfolio import trade_sql
from portfolio.models import Order
from webhooks import services as webhooks

logger = logging.getLogger(__name__)


def on_commit(tell: Callable[[], None]) -> None:
    """`tell` when the transaction commits, in the caller's context: a group of orders commits on the writer's
    thread after the request that placed this one has moved on, and its log line still carries that request's id
    (core/logs.py)."""
    # Robust: a telling that fails (a log handler, say) is logged by Django and never turns a committed group of
    # orders into an error for its callers (a retry without an idempotency key would trade twice).
    transaction.on_commit(functools.partial(contextvars.copy_context().run, tell), robust=True)


def _endpoint(user_id: str) -> str | None:
    with trade_sql.cursor() as cursor:
        return trade_sql.webhook_endpoint(cursor, user_id)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _outbox(user_id: str, event: str, data: dict) -> None:
    """The event into the book's webhook outbox, in the caller's transaction, if the book has a webhook."""
    endpoint_id = _endpoint(user_id)
    if endpoint_id is not None:
        webhooks.record(user_id=user_id, endpoint_id=endpoint_id, event=event, data=data)


def placed(order_id: str, *, type: str, ticker: str, side: str, qty: Decimal, rests: bool) -> None:
    def tell() -> None:
        metrics.ORDERS_PLACED.labels(type).inc()
        logger.info("order %s placed: %s %s %s %s%s", order_id, type, side, f"{qty.normalize():f}", ticker,
                    " (rests)" if rests else "", extra={"order_id": order_id, "event": "order.placed"})

    on_commit(tell)


def filled(
    order_id: str, *, user_id: str, type: str, ticker: str, side: str, qty: Decimal, price: Decimal, trade_id: str,
    rested: bool,
) -> None:
    """A fill: at once (a market order, a marketable limit, a Close) or of an order that rested (`rested`, the
    worker's). Its webhook events: the trade's confirmation, and for one that rested its order's fill."""
    data = {"order_id": order_id, "trade_id": trade_id, "type": type, "ticker": ticker, "side": side,
            "quantity": float(qty), "price": float(price)}  # numbers, as the JSON API writes them
    _outbox(user_id, "trade.executed", data)
    if rested:
        _outbox(user_id, "order.filled", data)

    def tell() -> None:
        metrics.ORDERS_FILLED.labels(type).inc()
        logger.info("order %s filled: %s %s %s at %s (trade %s)", order_id, side, f"{qty.normalize():f}", ticker,
                    price, trade_id, extra={"order_id": order_id, "trade_id": trade_id, "event": "order.filled"})

    on_commit(tell)


def rejected(order_id: str, exc: BaseException | None, message: str) -> None:
    """A resting order the worker could not fill at its price (the book can no longer take it)."""
    def tell() -> None:
        metrics.ORDERS_REJECTED.labels(metrics.reason(exc) if exc is not None else "database").inc()
        logger.info("order %s rejected at its price: %s", order_id, message,
                    extra={"order_id": order_id, "event": "order.rejected"})

    on_commit(tell)


def refused(exc: BaseException) -> None:
    """An order refused as it was placed: nothing was recorded."""
    metrics.ORDERS_REJECTED.labels(metrics.reason(exc)).inc()


def canceled(order_ids: Iterable[str], *, user_id: str, why: str) -> None:
    ids = list(order_ids)
    if ids and _endpoint(user_id) is not None:  # what each order was, for the receiver: read only if it listens
        for order in Order.objects.filter(pk__in=ids).order_by("created_at"):
            _outbox(user_id, "order.canceled", {
                "order_id": order.id, "type": order.type, "ticker": order.ticker, "side": order.side,
                "quantity": float(order.qty), "limit_price": _number(order.limit_price),
                "stop_price": _number(order.stop_price), "why": why})

    def tell() -> None:
        for order_id in ids:
            metrics.ORDERS_CANCELED.inc()
            logger.info("order %s canceled (%s)", order_id, why,
                        extra={"order_id": order_id, "event": "order.canceled"})

    if ids:
        on_commit(tell)


def expired(order_ids: Iterable[str]) -> None:
    ids = list(order_ids)

    def tell() -> None:
        for order_id in ids:
            metrics.ORDERS_EXPIRED.inc()
            logger.info("order %s expired", order_id, extra={"order_id": order_id, "event": "order.expired"})

    if ids:
        on_commit(tell)
