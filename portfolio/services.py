"""Writes of the portfolio: the one trade engine, snapshots, seeding and reset.

The trade form, the JSON API, the command line and the assistant all call `execute_trade`; none of them
checks cash or shares on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from core.db import DEFAULT_USER
from market import services as market_services
from market.exceptions import InvalidTicker
from market.store import get_store
from market.tickers import DEFAULT_TICKERS, normalize_ticker
from portfolio import selectors, trade_sql
from portfolio.exceptions import InsufficientCash, InsufficientShares, InvalidOrder, NoPrice
from portfolio.models import STARTING_CASH, PortfolioSnapshot, Position, Profile, Trade
from portfolio.money import AVERAGE_STEP, MAX_QUANTITY, QUANTITY_STEP, to_cents, to_decimal

logger = logging.getLogger(__name__)

# Sent after a reset wiped the portfolio, so apps above this one (the assistant's chat) clear theirs.
portfolio_reset = Signal()

SIDES = ("buy", "sell")


@dataclass(frozen=True)
class Fill:
    """An executed order, and the cash balance it left."""

    id: str
    ticker: str
    side: str
    quantity: Decimal
    price: Decimal
    notional: Decimal
    realized_pnl: Decimal | None
    executed_at: datetime
    cash_balance: Decimal


def clean_quantity(raw: object) -> Decimal:
    quantity = to_decimal(raw)
    if quantity is None or not quantity.is_finite():
        raise InvalidOrder("Quantity must be a number, such as 10 or 0.5.")
    if quantity <= 0:
        raise InvalidOrder("Quantity must be greater than zero.")
    if quantity > MAX_QUANTITY:
        raise InvalidOrder(f"Quantity must be at most {MAX_QUANTITY:,}.")
    quantity = quantity.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)
    if quantity == 0:
        raise InvalidOrder(f"Quantity rounds to zero: the smallest order is {QUANTITY_STEP} shares.")
    return quantity


def clean_side(raw: object) -> str:
    if raw not in SIDES:
        raise InvalidOrder("Side must be 'buy' or 'sell'.")
    return raw


@transaction.atomic
def execute_trade(*, user_id: str = DEFAULT_USER, ticker: str, side: str, quantity: object) -> Fill:
    """Fill a market order at the store's current price, atomically with its cash, position and snapshot.

    On SQLite the atomic block is BEGIN IMMEDIATE: we hold the write lock from the first statement, so the
    checks below cannot be overtaken by another order. On PostgreSQL the rows are locked FOR UPDATE.
    """
    side = clean_side(side)
    quantity = clean_quantity(quantity)
    try:
        ticker = normalize_ticker(ticker)
    except InvalidTicker as exc:
        raise InvalidOrder(str(exc)) from None

    with connection.cursor() as cursor:
        cash = trade_sql.lock_cash(cursor, user_id)
        if cash is None:
            raise InvalidOrder(f"There is no portfolio for user {user_id!r}.")
        holdings = trade_sql.lock_holdings(cursor, user_id)
        # One read of the price store for the order and the post-trade valuation.
        quotes = get_store().quotes([ticker, *holdings.keys() - {ticker}])
        quote = quotes.get(ticker)
        if quote is None:
            if ticker in get_store().status().unknown:
                raise NoPrice(f"{ticker} is not a ticker the price source knows.")
            raise NoPrice(f"There is no price for {ticker} yet: add it to the watchlist and try again in a moment.")
        price = Decimal(str(quote.price))
        notional = to_cents(quantity * price)
        if notional == 0:
            raise InvalidOrder(f"{quantity} {ticker} at ${price} is worth less than a cent.")

        holding = holdings.get(ticker)
        now = timezone.now()
        realized = None
        if side == "buy":
            if notional > cash:
                raise InsufficientCash(
                    f"Not enough cash: {quantity.normalize():f} {ticker} at ${price:,.2f} costs ${notional:,.2f}, "
                    f"and cash is ${cash:,.2f}."
                )
            cash -= notional
            if holding is None:
                holding = holdings[ticker] = trade_sql.Holding(None, ticker, Decimal(0), Decimal(0), Decimal(0))
            holding.quantity += quantity
            holding.cost_basis += notional
            # Weighted average of what was actually paid, so avg_cost × quantity matches the cash spent.
            holding.avg_cost = (holding.cost_basis / holding.quantity).quantize(AVERAGE_STEP, rounding=ROUND_HALF_UP)
            trade_sql.save_holding(cursor, user_id, holding, now)
        else:
            held = holding.quantity if holding else Decimal(0)
            if quantity > held:
                raise InsufficientShares(
                    f"Not enough shares: you hold {held.normalize():f} {ticker} and tried to sell {quantity.normalize():f}."
                )
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
            realized_pnl=realized,
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
    )


def record_snapshot(*, user_id: str = DEFAULT_USER) -> PortfolioSnapshot:
    """Record the portfolio's total value at the current prices."""
    with transaction.atomic():
        cash = Profile.objects.get(pk=user_id).cash_balance
        total = to_cents(cash + selectors.positions_market_value(user_id=user_id))
        return PortfolioSnapshot.objects.create(user_id=user_id, total_value=total)


def record_snapshots() -> None:
    """The worker's periodic task: one snapshot per profile."""
    for user_id in Profile.objects.values_list("id", flat=True):
        record_snapshot(user_id=user_id)


@transaction.atomic
def seed(*, user_id: str = DEFAULT_USER) -> bool:
    """Create the user with $10,000, the default watchlist and a first snapshot, once; True if it did.

    Idempotent: an existing user is left alone (a ticker they removed is not put back).
    """
    profile, created = Profile.objects.get_or_create(pk=user_id, defaults={"cash_balance": STARTING_CASH})
    if created:
        market_services.seed_watchlist(user_id=user_id, tickers=DEFAULT_TICKERS)
        PortfolioSnapshot.objects.create(user_id=user_id, total_value=profile.cash_balance)
        logger.info("seeded user %s with $%s and %d tickers", user_id, profile.cash_balance, len(DEFAULT_TICKERS))
    return created


@transaction.atomic
def reset(*, user_id: str = DEFAULT_USER) -> None:
    """Back to the first day: $10,000, the default watchlist, no positions, trades, snapshots or chat."""
    Position.objects.filter(user_id=user_id).delete()
    Trade.objects.filter(user_id=user_id).delete()
    PortfolioSnapshot.objects.filter(user_id=user_id).delete()
    Profile.objects.filter(pk=user_id).delete()
    market_services.clear_watchlist(user_id=user_id)
    portfolio_reset.send(sender=reset, user_id=user_id)
    seed(user_id=user_id)
