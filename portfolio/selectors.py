"""Reads of the portfolio: valuation at live prices, P&L, weights and history, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from django.db.models import Sum

from core.db import DEFAULT_USER
from market.store import Quote, get_store
from portfolio.models import PortfolioSnapshot, Position, Profile, Trade
from portfolio.money import to_cents
from portfolio.trade_sql import Holding


@dataclass(frozen=True)
class PositionView:
    ticker: str
    quantity: Decimal
    avg_cost: Decimal
    cost_basis: Decimal
    # None while the ticker has no price in the store; the position is then valued at cost.
    current_price: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_percent: Decimal
    day_change_percent: float | None
    weight: float  # share of the invested value, for the heatmap


@dataclass(frozen=True)
class PortfolioView:
    cash_balance: Decimal
    total_value: Decimal
    invested_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    positions: list[PositionView]


def _value(position: Position | Holding, quote: Quote | None) -> tuple[Decimal | None, Decimal]:
    if quote is None:
        return None, position.cost_basis
    price = Decimal(str(quote.price))
    return price, to_cents(position.quantity * price)


def market_value(positions: Iterable[Position | Holding], quotes: dict[str, Quote]) -> Decimal:
    """Σ quantity × price, at cost where a ticker has no price; for model rows or the engine's holdings."""
    return sum((_value(p, quotes.get(p.ticker))[1] for p in positions), Decimal(0))


def positions_market_value(*, user_id: str = DEFAULT_USER) -> Decimal:
    positions = list(Position.objects.filter(user_id=user_id))
    return market_value(positions, get_store().quotes([p.ticker for p in positions]) if positions else {})


def portfolio(*, user_id: str = DEFAULT_USER) -> PortfolioView:
    profile = Profile.objects.get(pk=user_id)
    positions = list(Position.objects.filter(user_id=user_id))
    quotes = get_store().quotes([p.ticker for p in positions]) if positions else {}
    valued = [(p, *_value(p, quotes.get(p.ticker))) for p in positions]
    invested = sum((value for _, _, value in valued), Decimal(0))
    views = []
    for position, price, value in valued:
        pnl = value - position.cost_basis
        quote = quotes.get(position.ticker)
        views.append(
            PositionView(
                ticker=position.ticker,
                quantity=position.quantity,
                avg_cost=position.avg_cost,
                cost_basis=position.cost_basis,
                current_price=price,
                market_value=value,
                unrealized_pnl=pnl,
                unrealized_pnl_percent=(pnl / position.cost_basis * 100).quantize(Decimal("0.01"))
                if position.cost_basis
                else Decimal(0),
                day_change_percent=round(quote.change_percent, 4) if quote else None,
                weight=float(value / invested) if invested else 0.0,
            )
        )
    cost = sum((p.cost_basis for p in positions), Decimal(0))
    return PortfolioView(
        cash_balance=profile.cash_balance,
        total_value=profile.cash_balance + invested,
        invested_value=invested,
        cost_basis=cost,
        unrealized_pnl=invested - cost,
        realized_pnl=realized_pnl(user_id=user_id),
        positions=views,
    )


def realized_pnl(*, user_id: str = DEFAULT_USER) -> Decimal:
    total = Trade.objects.filter(user_id=user_id, side=Trade.Side.SELL).aggregate(total=Sum("realized_pnl"))["total"]
    return to_cents(total) if total is not None else Decimal("0.00")


def snapshot_series(*, user_id: str = DEFAULT_USER, since: datetime | None = None) -> list[tuple[Decimal, datetime]]:
    snapshots = PortfolioSnapshot.objects.filter(user_id=user_id)
    if since is not None:
        snapshots = snapshots.filter(recorded_at__gte=since)
    return list(snapshots.order_by("recorded_at").values_list("total_value", "recorded_at"))


def held_tickers() -> set[str]:
    """Every ticker any user holds: the price worker keeps these priced even off the watchlist."""
    return set(Position.objects.values_list("ticker", flat=True).distinct())


@dataclass(frozen=True)
class TradeView:
    executed_at: datetime
    ticker: str
    side: str
    quantity: Decimal
    price: Decimal
    notional: Decimal
    realized_pnl: Decimal | None


def recent_trades(*, user_id: str = DEFAULT_USER, limit: int = 50) -> list[TradeView]:
    """The newest trades first, for the blotter."""
    rows = Trade.objects.filter(user_id=user_id).order_by("-executed_at")[:limit]
    return [
        TradeView(t.executed_at, t.ticker, t.side, t.quantity, t.price, t.notional, t.realized_pnl) for t in rows
    ]
