"""Writes of the portfolio: the one trade engine, snapshots, seeding and reset.

The trade form, the JSON API, the command line and the assistant all call `execute_trade`; none of them
checks cash or shares on its own.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from core.db import DEFAULT_USER, batchable
from market import selectors as market_selectors
from market import services as market_services
from market.exceptions import InvalidTicker
from market.quotes import FeedStatus
from market.store import get_store
from market.tickers import DEFAULT_TICKERS, normalize_ticker
from portfolio import events, selectors, trade_sql
from portfolio.exceptions import (
    InsufficientCash,
    InsufficientShares,
    InvalidOrder,
    InvalidProfile,
    NoPrice,
    OrderIdReused,
    OrderNotRecorded,
    PriceNotYet,
    PricesNotLive,
    StalePrice,
    TradeRejected,
)
from portfolio.models import STARTING_CASH, Order, PortfolioSnapshot, Position, Profile, Trade
from portfolio.money import (
    AVERAGE_STEP,
    CENT,
    MAX_PRICE,
    MAX_QUANTITY,
    PRICE_STEP,
    QUANTITY_STEP,
    cost_of,
    proceeds_of,
    to_cents,
    to_decimal,
)

logger = logging.getLogger(__name__)

# Sent after a reset wiped the portfolio, so apps above this one (the assistant's chat) clear theirs.
portfolio_reset = Signal()

SIDES = ("buy", "sell")


@dataclass(frozen=True)
class Fill:
    """An executed order, and the cash balance it left (the balance now, for a replayed order)."""

    id: str
    ticker: str
    side: str
    quantity: Decimal
    price: Decimal
    notional: Decimal
    realized_pnl: Decimal | None
    executed_at: datetime
    cash_balance: Decimal
    client_order_id: str | None = None
    # True when a retry carried a client_order_id that had already filled: nothing was traded this time.
    replayed: bool = False


# A quantity typed as text (the trade bar, the command line) is a plain decimal: Decimal() alone would also read
# 1e3 (a thousand shares from four keystrokes), "+5", "1_000" and non-ASCII digits. A JSON number is a number.
# (A minus passes here only to be told that a quantity is greater than zero.)
PLAIN_DECIMAL = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def plain_decimal(text: str) -> Decimal | None:
    """Text read by the one rule for a quantity typed as text (the trade bar, the command line, the assistant),
    or None if it is not written so. Whether the number is a quantity the engine fills is clean_quantity's to say."""
    text = text.strip()
    return Decimal(text) if PLAIN_DECIMAL.fullmatch(text) else None


def clean_quantity(raw: object) -> Decimal:
    if isinstance(raw, str) and raw.strip() and plain_decimal(raw) is None:
        raise InvalidOrder("Quantity must be a number written plainly, such as 10 or 0.5 (no exponent or separators).")
    quantity = to_decimal(raw)
    if quantity is None or not quantity.is_finite():
        raise InvalidOrder("Quantity must be a number, such as 10 or 0.5.")
    if quantity <= 0:
        raise InvalidOrder("Quantity must be greater than zero.")
    if quantity > MAX_QUANTITY:
        raise InvalidOrder(f"Quantity must be at most {MAX_QUANTITY:,}.")
    if quantity != quantity.quantize(QUANTITY_STEP, rounding=ROUND_DOWN):
        # Rounding would fill a different order than the one asked for (0.00005 would become 0.0001).
        raise InvalidOrder(f"Quantity can have at most 4 decimal places (the smallest step is {QUANTITY_STEP} shares).")
    return quantity.quantize(QUANTITY_STEP)


def price_problem(raw: object) -> str | None:
    """Why `raw` is not a limit or stop price the engine keeps, in words that end a sentence beginning with the
    price's name; None when it is one. A price of $1.00 or more is in whole cents, a lower one to 1/10,000, as
    US equity orders are quoted (SEC Reg NMS rule 612), and as the page shows them: a price shown is the price."""
    if isinstance(raw, bool) or (isinstance(raw, str) and plain_decimal(raw) is None):
        return "must be a number written plainly, such as 182.50"
    price = to_decimal(raw)
    if price is None or not price.is_finite():
        return "must be a number written plainly, such as 182.50"
    if price <= 0:
        return "must be greater than zero"
    if price >= MAX_PRICE:
        return f"must be less than ${MAX_PRICE:,}"
    if price >= 1 and price != price.quantize(CENT, rounding=ROUND_DOWN):
        return f"must be in whole cents at $1.00 or more ({price.normalize():f} is not)"
    if price != price.quantize(PRICE_STEP, rounding=ROUND_DOWN):
        return f"must have at most 4 decimals under $1.00 ({price.normalize():f} has more)"
    return None


def to_price(raw: object) -> Decimal | None:
    """A limit or stop price as the engine keeps it (to 1/10,000 of a dollar, as a trade's price), or None when it
    is not a price (price_problem says why)."""
    if price_problem(raw) is not None:
        return None
    return to_decimal(raw).quantize(PRICE_STEP)


# A client's own id for an order (the API's schema says the same): letters, digits and . _ : -, at most 64.
CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}", re.ASCII)


def clean_client_order_id(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not CLIENT_ORDER_ID.fullmatch(raw):
        raise InvalidOrder("client_order_id must be 1 to 64 of A-Z a-z 0-9 . _ : -")
    return raw


def clean_side(raw: object) -> str:
    if raw not in SIDES:
        raise InvalidOrder("Side must be 'buy' or 'sell'.")
    return raw


def describe_delay(status: FeedStatus) -> str:
    age = status.age()
    if age is None:
        return "There are no live prices yet: orders open once the price feed has started."
    return f"Prices are delayed {age:,.0f} s: orders resume when the price feed is live again."


def describe_stale_quote(ticker: str, age: float | None) -> str:
    old = f"{age:,.0f} s old" if age is not None else "of unknown age"
    return (f"The price of {ticker} is {old}: its source has stopped sending it (a halt or a delisting?), though "
            f"other prices are live. Orders in {ticker} resume when it is priced again.")


def _replay(past: trade_sql.PastOrder, *, ticker: str, side: str, quantity: Decimal, cash: Decimal) -> Fill:
    if past.type != "market" or past.trade_id is None:
        raise OrderIdReused(
            f"client_order_id {past.client_order_id!r} is already the id of a {past.type.replace('_', '-')} order "
            f"({past.side} {past.qty.normalize():f} {past.ticker}, {past.status})."
        )
    if (past.ticker, past.side, past.qty) != (ticker, side, quantity):
        raise OrderIdReused(
            f"client_order_id {past.client_order_id!r} already filled a different order "
            f"({past.side} {past.qty.normalize():f} {past.ticker})."
        )
    trade = Trade.objects.get(pk=past.trade_id)
    return Fill(
        id=trade.id,
        ticker=trade.ticker,
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        notional=trade.notional,
        realized_pnl=trade.realized_pnl,
        executed_at=trade.executed_at,
        cash_balance=cash,
        client_order_id=trade.client_order_id,
        replayed=True,
    )


@batchable  # orders waiting together share one transaction, each in its own savepoint (core.db.Writer)
def execute_trade(
    *, user_id: str, ticker: str, side: str, quantity: object, client_order_id: str | None = None
) -> Fill:
    """Fill a market order at the store's current price (see `_fill_order`); never lets a database constraint
    reach the caller as a database error."""
    try:
        return _fill_order(
            user_id=user_id, ticker=ticker, side=side, quantity=quantity, client_order_id=client_order_id
        )
    except TradeRejected as exc:
        events.refused(exc)
        raise
    except IntegrityError as exc:
        # A rule the checks above missed (a price that rounds to nothing, a race on a client_order_id): the
        # order's savepoint is rolled back, so nothing was traded, and the caller hears why as a refusal of
        # this order, not as a server failure. Only the first line: PostgreSQL's DETAIL repeats the row.
        logger.warning("order refused by a database constraint: %s", exc)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        events.refused(OrderNotRecorded())
        raise OrderNotRecorded(f"The order could not be recorded ({reason}); nothing was traded.") from None


@transaction.atomic
def _fill_order(*, user_id: str, ticker: str, side: str, quantity: object, client_order_id: str | None) -> Fill:
    """Fill a market order at the store's current price, atomically with its cash, position, snapshot and its
    order's record (every market order is an order too: GET /api/orders lists it).

    On SQLite the atomic block is BEGIN IMMEDIATE: we hold the write lock from the first statement, so the
    checks below cannot be overtaken by another order. On PostgreSQL the rows are locked FOR UPDATE.
    """
    side = clean_side(side)
    quantity = clean_quantity(quantity)
    client_order_id = clean_client_order_id(client_order_id)
    ticker = clean_ticker(ticker)

    with trade_sql.cursor() as cursor:
        # The profile row first: on PostgreSQL its lock serializes this user's orders, retries included.
        cash = trade_sql.lock_cash(cursor, user_id)
        if cash is None:
            raise InvalidOrder(f"There is no portfolio for user {user_id!r}.")
        if client_order_id is not None:
            past = trade_sql.find_order(cursor, user_id, client_order_id)
            if past is not None:
                return _replay(past, ticker=ticker, side=side, quantity=quantity, cash=cash)
        holdings = trade_sql.lock_holdings(cursor, user_id)
        price, quotes = live_price(cursor, user_id=user_id, ticker=ticker, side=side, holdings=holdings)
        fill = fill_at(
            cursor, user_id=user_id, ticker=ticker, side=side, quantity=quantity, price=price, cash=cash,
            holdings=holdings, quotes=quotes, held_back=trade_sql.held_back(cursor, user_id),
            client_order_id=client_order_id,
        )
        order_id = trade_sql.insert_filled_order(cursor, user_id=user_id, fill=fill, type="market")
        filled_at_once(order_id, fill, user_id=user_id, type="market")
    return fill


def filled_at_once(order_id: str, fill: Fill, *, user_id: str, type: str) -> None:
    """An order placed and filled at once (a market order, a marketable limit, a Close): both events."""
    events.placed(order_id, type=type, ticker=fill.ticker, side=fill.side, qty=fill.quantity, rests=False)
    events.filled(order_id, user_id=user_id, type=type, ticker=fill.ticker, side=fill.side, qty=fill.quantity,
                  price=fill.price, trade_id=fill.id, rested=False)


def clean_ticker(raw: object) -> str:
    try:
        return normalize_ticker(raw)
    except InvalidTicker as exc:
        raise InvalidOrder(str(exc)) from None


def live_price(cursor, *, user_id: str, ticker: str, side: str, holdings: dict) -> tuple[Decimal, dict]:
    """The price an order in `ticker` fills at now, and the quotes of the book's holdings besides (for its
    valuation), or the refusal that says why there is none the user can see as live."""
    store = get_store()
    status = store.status()
    if not status.is_fresh():
        # The last price is not one the user can see as live: never fill at it.
        raise StalePrice(describe_delay(status))
    if not status.tradable:
        raise PricesNotLive(
            f"Orders cannot fill now: the prices shown are not live quotes ({status.notice}). A market order is "
            "refused; an order that waits rests until live quotes come."
        )
    # One read of the price store for the order and the post-trade valuation.
    quotes = store.quotes([ticker, *holdings.keys() - {ticker}])
    quote = quotes.get(ticker)
    if quote is None:
        if ticker in status.unknown:
            raise NoPrice(f"{ticker} is not a ticker the price source knows.")
        if ticker in holdings or ticker in market_selectors.watched_tickers(user_id=user_id):
            # The worker prices it from its next tick: the same order can be sent again in a moment.
            raise PriceNotYet(f"There is no price for {ticker} yet: try again in a moment.")
        raise NoPrice(f"There is no price for {ticker} yet: add it to the watchlist and try again in a moment.")
    if side == "buy" and ticker not in holdings and not trade_sql.watches(cursor, user_id, ticker):
        # Only the watchlist's add (under its cap) makes a ticker priced for this user: a quote the store still
        # keeps for a ticker just removed (until the worker's next tick; up to a poll's 15 s with Massive), or
        # one another user watches, is no way around it (market.services.add_ticker).
        raise NoPrice(f"{ticker} is not on your watchlist: add it to the watchlist before buying it.")
    if not status.quote_is_live(quote):
        # The feed is live but this ticker's source stopped sending its price (a halt, a delisting): its last
        # price may be arbitrarily old.
        raise StalePrice(describe_stale_quote(ticker, status.quote_age(quote)))
    return usable_price(ticker, quote.price), quotes


def usable_price(ticker: str, raw: float) -> Decimal:
    price = Decimal(str(raw))
    if not price.is_finite() or price <= 0:
        # The store keeps no such price (market.quotes.storable_price); should one get there all the same, it
        # is refused here, before a write, not by the trade table's CHECK as a database error.
        raise NoPrice(f"There is no usable price for {ticker} (the last one is ${raw:g}): it cannot be "
                      "traded until its source prices it again.")
    return price


def fill_at(
    cursor, *, user_id: str, ticker: str, side: str, quantity: Decimal, price: Decimal, cash: Decimal,
    holdings: dict, quotes: dict, held_back: trade_sql.HeldBack, client_order_id: str | None,
) -> Fill:
    """The one fill: cash, position, trade row and snapshot, for a market order or a resting order's fill.

    Inside the caller's transaction, with the book's row locked (trade_sql.lock_cash) and its holdings read.
    `held_back` is what the book's other resting orders reserve: a buy may spend only the cash they leave free,
    a sell only the shares they leave free (portfolio.orders).
    """
    amount = quantity * price
    holding = holdings.get(ticker)
    now = timezone.now()
    realized = None
    closing = side == "sell" and ticker in holdings and quantity == holdings[ticker].quantity
    if amount < CENT and not closing:
        # Closing a whole position is always allowed (its proceeds round down), so no dust is stranded.
        raise InvalidOrder(f"{quantity.normalize():f} {ticker} at ${price:,.2f} is worth less than a cent.")
    if side == "buy":
        notional = cost_of(amount)
        free = cash - held_back.cash
        if notional > free:
            if held_back.cash:
                raise InsufficientCash(
                    f"Not enough buying power: {quantity.normalize():f} {ticker} at ${price:,.2f} costs "
                    f"${notional:,.2f}; cash is ${cash:,.2f}, of which open orders hold ${held_back.cash:,.2f}, "
                    f"leaving ${max(free, Decimal(0)):,.2f}."
                )
            raise InsufficientCash(
                f"Not enough cash: {quantity.normalize():f} {ticker} at ${price:,.2f} costs ${notional:,.2f}, "
                f"and cash is ${cash:,.2f}."
            )
        cash -= notional
        if holding is None:
            holding = holdings[ticker] = trade_sql.Holding(None, ticker, Decimal(0), Decimal(0), Decimal(0))
        # SPEC §5: the weighted average of the prices paid. The cash actually spent (rounded up to the
        # cent) is kept apart in cost_basis, which realized P&L is measured against.
        holding.avg_cost = (
            (holding.quantity * holding.avg_cost + quantity * price) / (holding.quantity + quantity)
        ).quantize(AVERAGE_STEP, rounding=ROUND_HALF_UP)
        holding.quantity += quantity
        holding.cost_basis += notional
        trade_sql.save_holding(cursor, user_id, holding, now)
    else:
        held = holding.quantity if holding else Decimal(0)
        reserved = held_back.shares.get(ticker, Decimal(0))
        if quantity > held - reserved:
            if reserved:
                raise InsufficientShares(
                    f"Not enough shares: you hold {held.normalize():f} {ticker}, of which open sell orders hold "
                    f"{reserved.normalize():f}, and tried to sell {quantity.normalize():f}."
                )
            raise InsufficientShares(
                f"Not enough shares: you hold {held.normalize():f} {ticker} and tried to sell {quantity.normalize():f}."
            )
        notional = proceeds_of(amount)
        released = holding.cost_basis if quantity == held else to_cents(holding.cost_basis * quantity / held)
        realized = notional - released
        cash += notional
        if quantity == held:
            trade_sql.delete_holding(cursor, holding)
            del holdings[ticker]
        else:
            holding.quantity -= quantity
            holding.cost_basis -= released
            trade_sql.save_holding(cursor, user_id, holding, now)
    trade_sql.set_cash(cursor, user_id, cash)
    trade_id = trade_sql.insert_trade(
        cursor, user_id=user_id, ticker=ticker, side=side, quantity=quantity, price=price, at=now,
        realized_pnl=realized, client_order_id=client_order_id,
    )
    total = to_cents(cash + selectors.market_value(holdings.values(), quotes))
    trade_sql.insert_snapshot(cursor, user_id=user_id, total_value=total, at=now)
    return Fill(
        id=trade_id,
        ticker=ticker,
        side=side,
        quantity=quantity,
        price=price,
        notional=notional,
        realized_pnl=realized,
        executed_at=now,
        cash_balance=cash,
        client_order_id=client_order_id,
    )


def lock_book(*, user_id: str) -> None:
    """Inside a transaction: take the user's profile row as a trade does, first, before any other row of theirs
    (a caller that trades after other writes of its own keeps the engine's lock order; see reset)."""
    with trade_sql.cursor() as cursor:
        trade_sql.lock_cash(cursor, user_id)


def record_snapshot(*, user_id: str) -> Decimal:
    """Record the portfolio's total value at the current prices; the same statements as a trade's snapshot.

    The profile row first, as a trade and a reset take it: on PostgreSQL a snapshot that read the book before a
    reset committed, and wrote after the reset had deleted the history, put the old portfolio's value into the
    new one."""
    with transaction.atomic(), trade_sql.cursor() as cursor:
        trade_sql.lock_cash(cursor, user_id)
        book = trade_sql.read_book(cursor, user_id)
        if book is None:
            raise InvalidOrder(f"There is no portfolio for user {user_id!r}.")
        quotes = get_store().quotes(list(book.holdings)) if book.holdings else {}
        total = to_cents(book.cash + selectors.market_value(book.holdings.values(), quotes))
        trade_sql.insert_snapshot(cursor, user_id=user_id, total_value=total, at=timezone.now())
    return total


SNAPSHOT_BOOKS_PER_QUERY = 500


def record_snapshots() -> int:
    """The worker's periodic task: a snapshot of every book that holds a position, in one transaction; how many.

    A book of cash alone is left out: its value moves only when it trades, and every fill records a snapshot of
    its own. With a thousand accounts that is one transaction of a few batched statements per interval instead
    of a thousand. The books' rows are taken first, in id order, as a trade and a reset take one of them: a reset
    cannot slip between the read and the write (see record_snapshot), and two of these cannot deadlock.
    """
    now = timezone.now()
    # The prices first, outside the transaction: a slow price store (Redis over a network) must not hold every
    # holder's book locked while it answers. They are one moment's prices either way.
    quotes = get_store().quotes(sorted(set(Position.objects.values_list("ticker", flat=True).distinct())))
    with transaction.atomic():
        holders = sorted(set(Position.objects.values_list("user_id", flat=True).distinct()))
        snapshots = []
        for start in range(0, len(holders), SNAPSHOT_BOOKS_PER_QUERY):
            chunk = holders[start:start + SNAPSHOT_BOOKS_PER_QUERY]
            cash = dict(Profile.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
                        .values_list("id", "cash_balance"))
            positions = list(Position.objects.filter(user_id__in=chunk))
            by_book: dict[str, list[Position]] = {}
            for position in positions:
                by_book.setdefault(position.user_id, []).append(position)
            snapshots += [
                PortfolioSnapshot(
                    user_id=book, recorded_at=now,
                    total_value=to_cents(cash[book] + selectors.market_value(by_book.get(book, ()), quotes)),
                )
                for book in chunk
                if book in cash
            ]
        PortfolioSnapshot.objects.bulk_create(snapshots, batch_size=SNAPSHOT_BOOKS_PER_QUERY)
    return len(snapshots)


@transaction.atomic
def seed(*, user_id: str) -> bool:
    """Create the user with $10,000, the default watchlist and a first snapshot, once; True if it did.

    Idempotent: an existing user is left alone (a ticker they removed is not put back).
    """
    profile, created = Profile.objects.get_or_create(pk=user_id, defaults={"cash_balance": STARTING_CASH})
    if created:
        _first_day(profile)
    return created


def _first_day(profile: Profile) -> None:
    market_services.seed_watchlist(user_id=profile.id, tickers=DEFAULT_TICKERS)
    record_snapshot(user_id=profile.id)
    logger.info("seeded user %s with $%s and %d tickers", profile.id, profile.cash_balance, len(DEFAULT_TICKERS))


def open_book(*, account_id: int) -> str:
    """The id of an account's book, opened on its first use with $10,000 and the default watchlist.

    Moving over from one user: the first account to open a book takes over the implicit user's (`default`) with
    everything in it, so an existing single-user database keeps its book when ACCOUNTS=on is turned on. Every
    later account gets a fresh book. Safe to call twice at once for the same account: the second finds the first's.
    """
    book = selectors.book_of(account_id=account_id)
    if book is not None:
        return book
    try:
        with transaction.atomic():
            unowned = Profile.objects.filter(pk=DEFAULT_USER, account__isnull=True)
            if not Profile.objects.filter(account__isnull=False).exists() and unowned.update(account_id=account_id):
                logger.info("account %s took over the book %r", account_id, DEFAULT_USER)
                return DEFAULT_USER
            profile = Profile.objects.create(id=f"user-{account_id}", account_id=account_id)
            _first_day(profile)
            return profile.id
    except IntegrityError:  # the same account's book, opened by a concurrent request
        book = selectors.book_of(account_id=account_id)
        if book is None:
            raise
        return book


def set_leaderboard(*, user_id: str, show: bool, display_name: str) -> None:
    """Opt a book in or out of the leaderboard, under a display name (required to opt in, and not one another book
    shows, in any case: the database's unique constraint decides between two at once)."""
    name = " ".join(display_name.split())[:40]
    if show and not name:
        raise InvalidProfile("Choose a display name to show on the leaderboard.")
    try:
        with transaction.atomic():
            Profile.objects.filter(pk=user_id).update(on_leaderboard=show, display_name=name)
    except IntegrityError:
        raise InvalidProfile(f"The display name {name!r} is taken: choose another.") from None


@transaction.atomic
def reset(*, user_id: str) -> None:
    """Back to the first day: $10,000, the default watchlist, no positions, trades, snapshots or chat.

    The profile row first, as a trade takes it (execute_trade), then the rest in the trade's order: on PostgreSQL
    a reset that deleted positions first and the profile last deadlocked with an order holding the profile and
    waiting for the positions. The row is kept and set back, not deleted: an order waiting for its lock then
    fills against the fresh book instead of finding no portfolio.
    """
    kept = Profile.objects.filter(pk=user_id).update(
        cash_balance=STARTING_CASH, created_at=timezone.now(), version=F("version") + 1
    )
    Position.objects.filter(user_id=user_id).delete()
    Order.objects.filter(user_id=user_id).delete()
    Trade.objects.filter(user_id=user_id).delete()
    PortfolioSnapshot.objects.filter(user_id=user_id).delete()
    market_services.clear_watchlist(user_id=user_id)
    portfolio_reset.send(sender=reset, user_id=user_id)
    if kept:
        _first_day(Profile.objects.get(pk=user_id))
    else:
        seed(user_id=user_id)
