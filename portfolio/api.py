"""JSON API of the portfolio: valuation, market orders and value history (SPEC §6)."""

from __future__ import annotations

from ninja import Router, Status

from core.db import write
from finally_site.api_errors import ErrorOut
from portfolio import selectors, services
from portfolio.schemas import PortfolioOut, SnapshotOut, TradeIn, TradeOut

router = Router(tags=["portfolio"])


@router.get("", response=PortfolioOut, summary="Cash, total value and positions at live prices")
def portfolio(request):
    return selectors.portfolio()


@router.post(
    "/trade",
    response={201: TradeOut, 400: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Market order, filled at once at the current price",
)
async def trade(request, payload: TradeIn):
    fill = await write(services.execute_trade, ticker=payload.ticker, side=payload.side, quantity=payload.quantity)
    return Status(201, fill)


@router.get("/history", response=list[SnapshotOut], summary="Total portfolio value over time")
def history(request):
    return [SnapshotOut(total_value=value, recorded_at=at) for value, at in selectors.snapshot_series()]
