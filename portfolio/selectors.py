"""Reads of the portfolio: valuation at live prices, P&L, weights and history, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from django.db import connection
from django.db.models import F, Q, Window
from django.db.models.functions import Mod, RowNumber

from core.db import DEFAULT_USER
from market.store import Quote, get_store
from portfolio import trade_sql
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


def portfolio(*, user_id: str = DEFAULT_USER) -> PortfolioView:
    """Valuation at live prices; cash, positions and realized P&L come from one consistent read."""
    with connection.cursor() as cursor:
        book = trade_sql.read_book(cursor, user_id)
    if book is None:
        raise Profile.DoesNotExist(f"There is no portfolio for user {user_id!r}.")
    holdings = list(book.holdings.values())
    quotes = get_store().quotes([h.ticker for h in holdings]) if holdings else {}
    valued = [(h, *_value(h, quotes.get(h.ticker))) for h in holdings]
    invested = sum((value for _, _, value in valued), Decimal(0))
    views = []
    for holding, price, value in valued:
        pnl = value - holding.cost_basis
        quote = quotes.get(holding.ticker)
        views.append(
            PositionView(
                ticker=holding.ticker,
                quantity=holding.quantity,
                avg_cost=holding.avg_cost,
                cost_basis=holding.cost_basis,
                current_price=price,
                market_value=value,
                unrealized_pnl=pnl,
                unrealized_pnl_percent=(pnl / holding.cost_basis * 100).quantize(Decimal("0.01"))
                if holding.cost_basis
                else Decimal(0),
                day_change_percent=round(quote.change_percent, 4) if quote else None,
                weight=float(value / invested) if invested else 0.0,
            )
        )
    cost = sum((h.cost_basis for h in holdings), Decimal(0))
    return PortfolioView(
        cash_balance=book.cash,
        total_value=book.cash + invested,
        invested_value=invested,
        cost_basis=cost,
        unrealized_pnl=invested - cost,
        realized_pnl=book.realized_pnl,
        positions=views,
    )


HISTORY_MAX_POINTS = 1000


def snapshot_series(
    *,
    user_id: str = DEFAULT_USER,
    since: datetime | None = None,
    until: datetime | None = None,
    max_points: int = HISTORY_MAX_POINTS,
) -> list[tuple[Decimal, datetime]]:
    """Total value over time, thinned to at most `max_points` evenly spaced snapshots (the latest always kept).

    A year of snapshots is about half a million rows; a chart needs a thousand points at most.
    """
    snapshots = PortfolioSnapshot.objects.filter(user_id=user_id)
    if since is not None:
        snapshots = snapshots.filter(recorded_at__gte=since)
    if until is not None:
        snapshots = snapshots.filter(recorded_at__lte=until)
    count = snapshots.count()
    if count > max_points:
        # Every step-th row by time, counted from the newest so the latest value is always in the series.
        step = -(-count // max_points)
        snapshots = snapshots.annotate(
            age_slot=Window(RowNumber(), order_by=F("recorded_at").desc()) - 1,
        ).annotate(keep=Mod(F("age_slot"), step)).filter(keep=0)
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


TRADES_PAGE = 50
TRADES_MAX_LIMIT = 500


class NoSuchTrade(LookupError):
    """A page cursor that names no trade of this user."""


def trades_page(
    *,
    user_id: str = DEFAULT_USER,
    ticker: str | None = None,
    side: str | None = None,
    limit: int = TRADES_PAGE,
    before: str | None = None,
) -> tuple[list[Trade], str | None]:
    """The trades newest first, `limit` at a time, and the cursor of the next (older) page or None.

    Keyed on (executed_at, id), both of which only grow: a trade filled between two page reads appears on no
    page twice and moves no trade from one page to another, as an offset would.
    """
    trades = Trade.objects.filter(user_id=user_id)
    if ticker is not None:
        trades = trades.filter(ticker=ticker)
    if side is not None:
        trades = trades.filter(side=side)
    if before is not None:
        cursor = Trade.objects.filter(user_id=user_id, pk=before).values_list("executed_at", flat=True).first()
        if cursor is None:
            raise NoSuchTrade(f"before: there is no trade {before!r}.")
        trades = trades.filter(Q(executed_at__lt=cursor) | Q(executed_at=cursor, pk__lt=before))
    rows = list(trades.order_by("-executed_at", "-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].pk if more else None
