"""Writes of the portfolio: the one trade engine, snapshots, seeding and reset.

The trade form, the JSON API, the command line and the assistant all call `execute_trade`; none of them
checks cash or shares on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from finally_site.db import DEFAULT_USER
from market import services as market_services
from market.exceptions import InvalidTicker
from market.store import get_store
from market.tickers import DEFAULT_TICKERS, normalize_ticker
from portfolio import selectors
from portfolio.exceptions import InsufficientCash, InsufficientShares, InvalidOrder, NoPrice
from portfolio.models import STARTING_CASH, PortfolioSnapshot, Position, Profile, Trade
from portfolio.money import AVERAGE_STEP, MAX_QUANTITY, QUANTITY_STEP, to_cents, to_decimal

logger = logging.getLogger(__name__)

# Sent after a reset wiped the portfolio, so apps above this one (the assistant's chat) clear theirs.
portfolio_reset = Signal()

SIDES = ("buy", "sell")


@dataclass(frozen=True)
class Fill:
    """An executed order and the cash balance it left."""

    trade: Trade
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
    checks below cannot be overtaken by another order. On PostgreSQL the profile row lock does the same.
    """
    side = clean_side(side)
    quantity = clean_quantity(quantity)
    try:
        ticker = normalize_ticker(ticker)
    except InvalidTicker as exc:
        raise InvalidOrder(str(exc)) from None

    profile = Profile.objects.select_for_update().get(pk=user_id)
    positions = {p.ticker: p for p in Position.objects.select_for_update().filter(user_id=user_id)}
    # One read of the price store for the order and the post-trade valuation.
    quotes = get_store().quotes([ticker, *positions.keys() - {ticker}])
    quote = quotes.get(ticker)
    if quote is None:
        raise NoPrice(f"There is no price for {ticker} yet: add it to the watchlist and try again in a moment.")
    price = Decimal(str(quote.price))
    notional = to_cents(quantity * price)
    if notional == 0:
        raise InvalidOrder(f"{quantity} {ticker} at ${price} is worth less than a cent.")

    position = positions.get(ticker)
    now = timezone.now()
    realized = None
    if side == "buy":
        if notional > profile.cash_balance:
            raise InsufficientCash(
                f"Not enough cash: {quantity.normalize():f} {ticker} at ${price:,.2f} costs ${notional:,.2f}, "
                f"and cash is ${profile.cash_balance:,.2f}."
            )
        profile.cash_balance -= notional
        if position is None:
            position = positions[ticker] = Position(user_id=user_id, ticker=ticker, quantity=Decimal(0), cost_basis=Decimal(0))
        position.quantity += quantity
        position.cost_basis += notional
        # Weighted average of what was actually paid, so avg_cost × quantity matches the cash spent.
        position.avg_cost = (position.cost_basis / position.quantity).quantize(AVERAGE_STEP, rounding=ROUND_HALF_UP)
        position.updated_at = now
        if position._state.adding:
            position.save(force_insert=True)
        else:
            _update(position, "quantity", "cost_basis", "avg_cost", "updated_at")
    else:
        held = position.quantity if position else Decimal(0)
        if quantity > held:
            raise InsufficientShares(
                f"Not enough shares: you hold {held.normalize():f} {ticker} and tried to sell {quantity.normalize():f}."
            )
        released = position.cost_basis if quantity == held else to_cents(position.cost_basis * quantity / held)
        realized = notional - released
        profile.cash_balance += notional
        if quantity == held:
            position.delete()
            del positions[ticker]
        else:
            position.quantity -= quantity
            position.cost_basis -= released
            position.updated_at = now
            _update(position, "quantity", "cost_basis", "updated_at")
    _update(profile, "cash_balance")
    trade = Trade.objects.create(
        user_id=user_id,
        ticker=ticker,
        side=side,
        quantity=quantity,
        price=price,
        executed_at=now,
        realized_pnl=realized,
    )
    total = profile.cash_balance + selectors.market_value(positions.values(), quotes)
    PortfolioSnapshot.objects.create(user_id=user_id, total_value=to_cents(total), recorded_at=now)
    return Fill(trade=trade, cash_balance=profile.cash_balance)


def _update(instance, *fields: str) -> None:
    """UPDATE just these columns of one row: the lean path for the trade engine's hot writes."""
    type(instance)._default_manager.filter(pk=instance.pk).update(**{f: getattr(instance, f) for f in fields})


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
