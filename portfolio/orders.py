"""Orders that wait for a price: placing, canceling and expiring them, and the price worker's matching.

A resting order (`new`) reserves what it needs: a buy its worst cost in cash, a sell its shares (`reservation`).
Buying power is the cash the book's resting buys leave free; every order, market or resting, may spend only that,
and sell only the shares resting sells leave free (portfolio.services.fill_at checks both).

Every write here takes the book's row first (trade_sql.lock_cash), as a market order does: an order's placement,
its cancel and its fill are serialized per book, so exactly one of a cancel and a fill arriving together wins, and
the loser sees the winner's status. Every fill goes through the one engine (portfolio.services.fill_at): the same
checks, the same rounding, the same trade row as a market order.

Matching runs in the price worker, right after each tick is published (market.hooks.tick_listeners): one indexed
range read per ticker and direction finds the resting orders the tick's live prices reach, and they fill in one
transaction, each in its own savepoint. An order's fill and its status change are one commit: a worker killed
between them leaves neither, and the order fills at a later tick instead. Prices a source delivered but that are
not live (Massive's end-of-day closes, a halted ticker) fill nothing: market.quotes.FeedStatus.quote_is_live
decides, as it does for a market order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.db import batchable
from market.sessions import session_end
from market.store import get_store
from portfolio import events, services, trade_sql
from portfolio.exceptions import (
    InsufficientCash,
    InsufficientShares,
    InvalidOrder,
    NoSuchOrder,
    OrderIdReused,
    OrderNotOpen,
    OrderNotRecorded,
    PositionChanged,
    PriceNotYet,
    PricesNotLive,
    TradeRejected,
)
from portfolio.models import Order
from portfolio.money import CENT, cost_of

logger = logging.getLogger(__name__)

TYPES = tuple(Order.Type.values)
TIMES_IN_FORCE = tuple(Order.TimeInForce.values)
# A buy stop fills at the market once its stop is reached, and the market can gap past it: it reserves its stop
# price plus this margin. A fill beyond what the book can pay is rejected at that tick, with the numbers.
STOP_MARGIN = Decimal("0.05")
# Orders filled per transaction when a tick reaches many (bench/README.md, issue 22: about 1 ms a fill on SQLite).
FILL_BATCH = 200


@dataclass(frozen=True)
class OrderRequest:
    """An order as asked for, checked: what place_order records, and what a retry is compared with."""

    ticker: str
    side: str
    qty: Decimal
    type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    client_order_id: str | None


PRICE_NAMES = {"limit_price": "The limit price", "stop_price": "The stop price"}


def clean_price(raw: object, name: str) -> Decimal:
    problem = services.price_problem(raw)
    if problem is not None:
        raise InvalidOrder(f"{PRICE_NAMES[name]} ({name}) {problem}.")
    return services.to_price(raw)


def clean_request(
    *, ticker: object, side: object, qty: object, type: object = "market", time_in_force: object = "day",
    limit_price: object = None, stop_price: object = None, client_order_id: object = None,
) -> OrderRequest:
    """The order's fields, checked, or InvalidOrder saying which one is wrong and why."""
    if type not in TYPES:
        raise InvalidOrder("type must be one of market, limit, stop, stop_limit.")
    if time_in_force not in TIMES_IN_FORCE:
        raise InvalidOrder("time_in_force must be 'day' or 'gtc'.")
    needs_limit = type in ("limit", "stop_limit")
    needs_stop = type in ("stop", "stop_limit")
    if needs_limit and limit_price is None:
        raise InvalidOrder(f"A {type.replace('_', '-')} order needs a limit_price.")
    if needs_stop and stop_price is None:
        raise InvalidOrder(f"A {type.replace('_', '-')} order needs a stop_price.")
    if not needs_limit and limit_price is not None:
        raise InvalidOrder(f"A {type} order takes no limit_price.")
    if not needs_stop and stop_price is not None:
        raise InvalidOrder(f"A {type} order takes no stop_price.")
    return OrderRequest(
        ticker=services.clean_ticker(ticker),
        side=services.clean_side(side),
        qty=services.clean_quantity(qty),
        type=type,
        time_in_force=time_in_force,
        limit_price=clean_price(limit_price, "limit_price") if needs_limit else None,
        stop_price=clean_price(stop_price, "stop_price") if needs_stop else None,
        client_order_id=services.clean_client_order_id(client_order_id),
    )


def reservation(request: OrderRequest) -> Decimal:
    """The cash a resting buy holds back while it waits: the most it can cost, rounded up to the cent (a limit,
    and a stop-limit once triggered, never pay above their limit), or for a stop, its stop price plus STOP_MARGIN,
    as a stop fills at whatever the market is when its stop is reached. A sell holds shares, not cash: 0."""
    if request.side == "sell":
        return Decimal("0.00")
    if request.type in ("limit", "stop_limit"):
        return cost_of(request.qty * request.limit_price)
    return cost_of(request.qty * request.stop_price * (1 + STOP_MARGIN))


def watch(request: OrderRequest, *, triggered: bool = False) -> tuple[Decimal, bool]:
    """Where the matcher looks for a resting order: (price, acts at or below it). A limit acts when the price comes
    to it (a buy at or below, a sell at or above); a stop when the price runs through it (a buy at or above, a sell
    at or below); a stop-limit as its stop, then, once triggered, as its limit."""
    if request.type == "limit" or (request.type == "stop_limit" and triggered):
        return request.limit_price, request.side == "buy"
    return request.stop_price, request.side == "sell"


def reached(request: OrderRequest, price: Decimal, *, triggered: bool = False) -> bool:
    level, at_or_below = watch(request, triggered=triggered)
    return price <= level if at_or_below else price >= level


@batchable
def place_order(**fields) -> Order:
    """Place an order (the API's POST /api/orders, the trade ticket, the command line, the assistant).

    A market order fills at once (portfolio.services.execute_trade); so does a limit the live price already
    reaches, at that price. Otherwise it rests, holding its reservation, until a tick reaches it, it is canceled,
    or (`day`) the session ends. A stop already reached is refused: it would fill at once, which is a market
    order's job. A retry with the same client_order_id returns the first order and places nothing.
    """
    user_id = fields.pop("user_id")
    try:
        request = clean_request(**fields)
    except TradeRejected as exc:
        events.refused(exc)
        raise
    if request.type == "market":
        fill = services.execute_trade(
            user_id=user_id, ticker=request.ticker, side=request.side, quantity=request.qty,
            client_order_id=request.client_order_id,
        )
        order = Order.objects.get(user_id=user_id, trade_id=fill.id)
        order.replayed = fill.replayed
        return order
    try:
        pk, replayed = _place(user_id, request)
        order = Order.objects.get(pk=pk)
        order.replayed = replayed  # the API says so (Idempotent-Replayed), as POST /api/portfolio/trade does
        return order
    except TradeRejected as exc:
        events.refused(exc)
        raise
    except IntegrityError as exc:
        logger.warning("order refused by a database constraint: %s", exc)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        events.refused(OrderNotRecorded())
        raise OrderNotRecorded(f"The order could not be recorded ({reason}); nothing was placed.") from None


def _same(past: trade_sql.PastOrder, request: OrderRequest) -> bool:
    """A retry asks for the same order: every term of it, so a reused id with new terms is refused, not answered
    with the old order as if the new terms were placed."""
    terms = ("type", "ticker", "side", "qty", "limit_price", "stop_price", "time_in_force")
    return all(getattr(past, term) == getattr(request, term) for term in terms)


def _refuse_a_reached_stop(request: OrderRequest, price: Decimal, *, live: bool) -> None:
    if not reached(request, price):
        return
    direction = "above" if request.side == "buy" else "below"
    at = f"is at ${price:,.2f}" if live else f"was last at ${price:,.2f}"
    raise InvalidOrder(
        f"A {request.side} stop at ${request.stop_price:,.2f} is already reached ({request.ticker} {at}): it would "
        f"trigger at once. A {request.side} stop goes {direction} the price."
    )


@transaction.atomic
def _place(user_id: str, request: OrderRequest) -> tuple[str, bool]:
    """The order's id, and whether it is the first one a retry named (replayed) rather than a new one."""
    with trade_sql.cursor() as cursor:
        cash = trade_sql.lock_cash(cursor, user_id)
        if cash is None:
            raise InvalidOrder(f"There is no portfolio for user {user_id!r}.")
        if request.client_order_id is not None:
            past = trade_sql.find_order(cursor, user_id, request.client_order_id)
            if past is not None:
                if not _same(past, request):
                    raise OrderIdReused(
                        f"client_order_id {request.client_order_id!r} is already the id of another order "
                        f"({past.type.replace('_', '-')} {past.side} {past.qty.normalize():f} {past.ticker})."
                    )
                return past.id, True
        holdings = trade_sql.lock_holdings(cursor, user_id)
        held_back = trade_sql.held_back(cursor, user_id)
        try:
            price, quotes = services.live_price(
                cursor, user_id=user_id, ticker=request.ticker, side=request.side, holdings=holdings
            )
        except (PriceNotYet, PricesNotLive):
            # No live price now (the feed is late, this ticker's first price is a tick away, the source's prices
            # are end-of-day closes): the order rests, and the first live tick decides, at its price. A stop the
            # last price, live or not, already reaches would trigger on that first tick: refused all the same.
            price, quotes = None, {}
            last = get_store().latest(request.ticker)
            if last is not None and request.type in ("stop", "stop_limit"):
                _refuse_a_reached_stop(request, services.usable_price(request.ticker, last.price), live=False)
        if price is not None and request.type == "limit" and reached(request, price):
            fill = services.fill_at(
                cursor, user_id=user_id, ticker=request.ticker, side=request.side, quantity=request.qty,
                price=price, cash=cash, holdings=holdings, quotes=quotes, held_back=held_back,
                client_order_id=request.client_order_id,
            )
            filled = trade_sql.insert_filled_order(
                cursor, user_id=user_id, fill=fill, type="limit", time_in_force=request.time_in_force,
                limit_price=request.limit_price,
            )
            services.filled_at_once(filled, fill, user_id=user_id, type="limit")
            return filled, False
        if price is not None and request.type in ("stop", "stop_limit"):
            _refuse_a_reached_stop(request, price, live=True)
        _check_room(cursor, user_id, request, cash=cash, holdings=holdings, held_back=held_back)
        now = timezone.now()
        level, at_or_below = watch(request)
        expires = None
        if request.time_in_force == "day":
            expires = session_end(now, source=get_store().status().source or "simulator")
        order = Order.objects.create(
            user_id=user_id, ticker=request.ticker, side=request.side, qty=request.qty, type=request.type,
            time_in_force=request.time_in_force, limit_price=request.limit_price, stop_price=request.stop_price,
            client_order_id=request.client_order_id, status=Order.Status.NEW, created_at=now, expires_at=expires,
            reserved_cash=reservation(request), watch_price=level, acts_at_or_below=at_or_below,
        )
        trade_sql.bump_version(cursor, user_id)
        events.placed(order.id, type=order.type, ticker=order.ticker, side=order.side, qty=order.qty, rests=True)
    return order.id, False


def _check_room(cursor, user_id: str, request: OrderRequest, *, cash, holdings, held_back) -> None:
    """Refuse a resting order the book cannot hold, with the numbers: the cash its reservation needs beyond the
    buying power, the shares beyond those free, more resting orders than the cap, or one worth less than a cent."""
    level = request.limit_price if request.limit_price is not None else request.stop_price
    if request.qty * level < CENT:
        raise InvalidOrder(f"{request.qty.normalize():f} {request.ticker} at ${level:,.2f} is worth less than a cent.")
    resting = trade_sql.resting_count(cursor, user_id)
    if resting >= settings.ORDERS_OPEN_MAX:
        raise InvalidOrder(
            f"A book may hold at most {settings.ORDERS_OPEN_MAX} open orders: cancel one before placing another."
        )
    if request.side == "buy":
        needed = reservation(request)
        power = cash - held_back.cash
        if needed > power:
            rule = "its limit" if request.type != "stop" else f"its stop plus {STOP_MARGIN:.0%}"
            raise InsufficientCash(
                f"Not enough buying power: this order holds ${needed:,.2f} ({request.qty.normalize():f} "
                f"{request.ticker} at {rule}), and buying power is ${max(power, Decimal(0)):,.2f}."
            )
    else:
        held = holdings[request.ticker].quantity if request.ticker in holdings else Decimal(0)
        free = held - held_back.shares.get(request.ticker, Decimal(0))
        if request.qty > free:
            raise InsufficientShares(
                f"Not enough shares: you hold {held.normalize():f} {request.ticker}, of which "
                f"{max(free, Decimal(0)).normalize():f} are not held by other sell orders, and this order sells "
                f"{request.qty.normalize():f}."
            )


@batchable
@transaction.atomic
def cancel_order(*, user_id: str, order_id: str) -> Order:
    """Cancel a resting order, releasing its reservation at once. One that has filled (or was closed otherwise)
    is OrderNotOpen, saying how it ended; another user's order is NoSuchOrder, exactly as one that never was."""
    with trade_sql.cursor() as cursor:
        trade_sql.lock_cash(cursor, user_id)
        order = Order.objects.filter(user_id=user_id, pk=order_id).first()
        if order is None:
            raise NoSuchOrder("There is no such order.")
        if order.status != Order.Status.NEW:
            raise OrderNotOpen(describe_closed(order))
        now = timezone.now()
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELED, canceled_at=now, reserved_cash=0)
        trade_sql.bump_version(cursor, user_id)
        events.canceled([order.id], user_id=user_id, why="by its owner")
    order.refresh_from_db()
    return order


@batchable
@transaction.atomic
def cancel_all(*, user_id: str) -> int:
    """Cancel every resting order of the book; how many."""
    with trade_sql.cursor() as cursor:
        trade_sql.lock_cash(cursor, user_id)  # the book's lock: the open orders read here are the ones canceled
        ids = list(Order.objects.filter(user_id=user_id, status=Order.Status.NEW).values_list("id", flat=True))
        canceled = Order.objects.filter(pk__in=ids).update(
            status=Order.Status.CANCELED, canceled_at=timezone.now(), reserved_cash=0
        )
        if canceled:
            trade_sql.bump_version(cursor, user_id)
            events.canceled(ids, user_id=user_id, why="all of the book's")
    return canceled


@dataclass(frozen=True)
class Closed:
    """A position closed: the sale, and how many of the ticker's open sell orders it canceled."""

    fill: services.Fill
    canceled: int


@batchable
def close_position(*, user_id: str, ticker: str, expected: object = None) -> Closed:
    """Sell the whole position at market, the ticker's open sell orders canceled in the same transaction (a stop
    guarding shares no longer held has nothing left to sell): the quantity is the one held when the book's row is
    locked. `expected`, the quantity the user was shown: a position that has changed since (a resting buy filled)
    is refused, not sold at a size nobody confirmed. Refused, with nothing canceled, as a market sell would be (no
    live price)."""
    try:
        shown = services.clean_quantity(expected) if expected not in (None, "") else None
        return _close(user_id, services.clean_ticker(ticker), shown)
    except TradeRejected as exc:
        events.refused(exc)
        raise
    except IntegrityError as exc:
        logger.warning("close refused by a database constraint: %s", exc)
        events.refused(OrderNotRecorded())
        raise OrderNotRecorded("The position could not be closed; nothing was traded.") from None


@transaction.atomic
def _close(user_id: str, ticker: str, shown) -> Closed:
    with trade_sql.cursor() as cursor:
        cash = trade_sql.lock_cash(cursor, user_id)
        if cash is None:
            raise InvalidOrder(f"There is no portfolio for user {user_id!r}.")
        holdings = trade_sql.lock_holdings(cursor, user_id)
        holding = holdings.get(ticker)
        if holding is None or holding.quantity <= 0:
            raise InsufficientShares(f"You hold no {ticker}: there is nothing to close.")
        if shown is not None and holding.quantity != shown:
            raise PositionChanged(
                f"Your {ticker} position is now {holding.quantity.normalize():f} shares, not the "
                f"{shown.normalize():f} shown: nothing was sold. Look again and click Close once more."
            )
        price, quotes = services.live_price(cursor, user_id=user_id, ticker=ticker, side="sell", holdings=holdings)
        selling = Order.objects.filter(user_id=user_id, ticker=ticker, side="sell", status=Order.Status.NEW)
        sells = list(selling.values_list("id", flat=True))  # under the book's lock: the ones canceled below
        canceled = Order.objects.filter(pk__in=sells).update(
            status=Order.Status.CANCELED, canceled_at=timezone.now(), reserved_cash=0
        )
        events.canceled(sells, user_id=user_id, why=f"closing {ticker}")
        fill = services.fill_at(
            cursor, user_id=user_id, ticker=ticker, side="sell", quantity=holding.quantity, price=price, cash=cash,
            holdings=holdings, quotes=quotes, held_back=trade_sql.held_back(cursor, user_id), client_order_id=None,
        )
        order_id = trade_sql.insert_filled_order(cursor, user_id=user_id, fill=fill, type="market")
        services.filled_at_once(order_id, fill, user_id=user_id, type="market")
    return Closed(fill, canceled)


def describe_closed(order: Order) -> str:
    if order.status == Order.Status.FILLED:
        return (f"This order filled ({order.filled_qty.normalize():f} {order.ticker} at "
                f"${order.filled_avg_price:,.2f}): a filled order cannot be canceled.")
    if order.status == Order.Status.REJECTED:
        return f"This order was rejected ({order.reason}): there is nothing to cancel."
    return f"This order is {order.status}: there is nothing to cancel."


# --- the price worker's side ------------------------------------------------------------------------------------


EXPIRE_BATCH = 1000


def expire_orders() -> int:
    """Close `day` orders whose session has ended, releasing their reservations; how many. Read first, outside a
    transaction: on almost every tick nothing is due, and a write transaction (SQLite's write lock) each tick for
    nothing would hold up the orders of every web process. At most EXPIRE_BATCH a tick; the next takes the rest."""
    now = timezone.now()
    due = list(
        Order.objects.filter(status=Order.Status.NEW, expires_at__lte=now)
        .order_by()
        .values_list("id", "user_id")[:EXPIRE_BATCH]
    )
    if not due:
        return 0
    users = sorted({user for _, user in due})
    with transaction.atomic(), trade_sql.cursor() as cursor:
        trade_sql.lock_books(cursor, users)  # as a cancel takes them: one of the two wins, and the other sees it
        ids = list(Order.objects.filter(pk__in=[pk for pk, _ in due], status=Order.Status.NEW)
                   .values_list("id", flat=True))
        expired = Order.objects.filter(pk__in=ids).update(status=Order.Status.EXPIRED, expired_at=now, reserved_cash=0)
        for user in users:
            trade_sql.bump_version(cursor, user)
        events.expired(ids)
    return expired


def live_prices(tickers) -> tuple[dict[str, Decimal], dict]:
    """This tick's prices a user can see as live, by ticker (none while the feed is late or its prices are not
    live quotes), and the store's quotes of `tickers`: what a resting order fills at, and what fires an alert."""
    store = get_store()
    status = store.status()
    if not status.is_fresh() or not status.tradable:
        return {}, {}
    quotes = store.quotes(sorted(tickers))
    live = {}
    for ticker, quote in quotes.items():
        if status.quote_is_live(quote):
            try:
                live[ticker] = services.usable_price(ticker, quote.price)
            except TradeRejected:
                continue
    return live, quotes


def match_tick(tickers) -> int:
    """The worker's step after each tick: expire what is due, then fill the resting orders this tick's live
    prices reach; how many filled. Orders whose ticker had no live price this tick wait for one."""
    expire_orders()
    store = get_store()
    live, quotes = live_prices(tickers)
    if not live:
        return 0
    now = timezone.now()
    reached_ids = trade_sql.reached_orders(live, now)
    if not reached_ids:
        return 0
    # Whole books per batch, about FILL_BATCH orders each, in book order: a gap that runs through thousands of
    # orders commits as it goes, and the web's own orders get the database between batches.
    by_user: dict[str, list[tuple[str, str]]] = {}
    for pk, user in reached_ids:
        by_user.setdefault(user, []).append((pk, user))
    filled, batch = 0, []
    users = sorted(by_user)
    for i, user in enumerate(users):
        batch.extend(by_user[user])
        if len(batch) < FILL_BATCH and i < len(users) - 1:
            continue
        # A long burst keeps the worker from its next tick: once this tick's prices are no longer live (the feed
        # is late by the freshness rule), the rest wait for the next tick's live prices.
        if not store.status().is_fresh():
            logger.warning("matching stopped: this tick's prices went stale after %d fills; the rest wait", filled)
            break
        filled += _fill_reached(batch, live, quotes, now)
        batch = []
    if filled:
        logger.info("%d resting orders filled", filled)
    return filled


@transaction.atomic
def _fill_reached(reached_ids: list[tuple[str, str]], live: dict[str, Decimal], quotes: dict, now) -> int:
    """Fill a batch of reached orders in one transaction: the books' rows taken first, in id order (as the
    interval snapshot takes them, so the two cannot deadlock), then each order in time priority within its book,
    each in a savepoint, re-read under the lock: one canceled a moment ago is skipped."""
    users = sorted({user for _, user in reached_ids})
    filled = 0
    with trade_sql.cursor() as cursor:
        trade_sql.lock_books(cursor, users)
        orders = list(
            Order.objects.filter(pk__in=[pk for pk, _ in reached_ids], status=Order.Status.NEW)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .order_by("user_id", "created_at", "id")
        )
        store = get_store()
        for order in orders:
            price = live[order.ticker]
            request = _request_of(order)
            triggered = order.triggered_at is not None
            if not reached(request, price, triggered=triggered):
                continue  # read under the lock, it no longer is (its stop-limit turned into a limit, say)
            try:
                with transaction.atomic():
                    if request.type == "stop_limit" and not triggered:
                        _trigger(order, request)
                        if not reached(request, price, triggered=True):
                            trade_sql.bump_version(cursor, order.user_id)
                            continue
                    if _fill_one(cursor, order, price, quotes, store):
                        filled += 1
            except IntegrityError as exc:  # a rule the engine's checks missed: this order only
                logger.warning("order %s refused by a database constraint: %s", order.id, exc)
                _reject(cursor, order, "the database refused to record the fill")
    return filled


def _request_of(order: Order) -> OrderRequest:
    return OrderRequest(
        ticker=order.ticker, side=order.side, qty=order.qty, type=order.type, time_in_force=order.time_in_force,
        limit_price=order.limit_price, stop_price=order.stop_price, client_order_id=order.client_order_id,
    )


def _trigger(order: Order, request: OrderRequest) -> None:
    level, at_or_below = watch(request, triggered=True)
    order.triggered_at = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        triggered_at=order.triggered_at, watch_price=level, acts_at_or_below=at_or_below
    )


def _fill_one(cursor, order: Order, price: Decimal, quotes: dict, store) -> bool:
    """Fill one reached order at this tick's price, or reject it if the book can no longer take it."""
    cash = trade_sql.lock_cash(cursor, order.user_id)
    holdings = trade_sql.lock_holdings(cursor, order.user_id)
    missing = [t for t in holdings if t not in quotes]
    if missing:
        quotes.update(store.quotes(missing))
    try:
        fill = services.fill_at(
            cursor, user_id=order.user_id, ticker=order.ticker, side=order.side, quantity=order.qty, price=price,
            cash=cash, holdings=holdings, quotes=quotes,
            held_back=trade_sql.held_back(cursor, order.user_id, except_order=order.id),
            client_order_id=order.client_order_id,
        )
    except TradeRejected as exc:
        _reject(cursor, order, str(exc), exc)
        return False
    now = fill.executed_at
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.FILLED, filled_at=now, filled_qty=fill.quantity, filled_avg_price=fill.price,
        trade_id=fill.id, reserved_cash=0, triggered_at=order.triggered_at or (now if order.type == "stop" else None),
    )
    events.filled(order.id, user_id=order.user_id, type=order.type, ticker=order.ticker, side=order.side,
                  qty=fill.quantity, price=fill.price, trade_id=fill.id, rested=True)
    return True


def _reject(cursor, order: Order, reason: str, exc: TradeRejected | None = None) -> None:
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REJECTED, reason=reason[:300], reserved_cash=0)
    trade_sql.bump_version(cursor, order.user_id)
    events.rejected(order.id, exc, reason)
