"""JSON API of the portfolio: valuation, market orders and value history (SPEC §6)."""

from __future__ import annotations

from ninja import Router, Status

from finally_site.api_errors import ErrorOut
from finally_site.db import write
from portfolio import selectors, services
from portfolio.schemas import PortfolioOut, PositionOut, SnapshotOut, TradeIn, TradeOut

router = Router(tags=["portfolio"])


@router.get("", response=PortfolioOut, summary="Cash, total value and positions at live prices")
def portfolio(request):
    view = selectors.portfolio()
    return PortfolioOut(
        cash_balance=view.cash,
        total_value=view.total_value,
        invested_value=view.invested_value,
        unrealized_pnl=view.unrealized_pnl,
        realized_pnl=view.realized_pnl,
        positions=[
            PositionOut(
                ticker=p.ticker,
                quantity=p.quantity,
                avg_cost=p.avg_cost,
                cost_basis=p.cost_basis,
                current_price=p.current_price,
                market_value=p.market_value,
                unrealized_pnl=p.unrealized_pnl,
                change_percent=p.unrealized_pnl_percent,
                day_change_percent=p.day_change_percent,
                weight=p.weight,
            )
            for p in view.positions
        ],
    )


@router.post(
    "/trade",
    response={201: TradeOut, 400: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Market order, filled at once at the current price",
)
async def trade(request, payload: TradeIn):
    fill = await write(services.execute_trade, ticker=payload.ticker, side=payload.side, quantity=payload.quantity)
    return Status(
        201,
        TradeOut(
            id=fill.trade_id,
            ticker=fill.ticker,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            notional=fill.notional,
            realized_pnl=fill.realized_pnl,
            executed_at=fill.executed_at,
            cash_balance=fill.cash_balance,
        ),
    )


@router.get("/history", response=list[SnapshotOut], summary="Total portfolio value over time")
def history(request):
    return [SnapshotOut(total_value=value, recorded_at=at) for value, at in selectors.snapshot_series()]
