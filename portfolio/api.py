"""JSON API of the portfolio: valuation, market orders and value history (SPEC §6)."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Query, Router, Status

from core.db import write
from finally_site.api_errors import ErrorOut
from portfolio import selectors, services
from portfolio.schemas import HistoryQuery, PortfolioOut, SnapshotOut, TradeIn, TradeOut

router = Router(tags=["portfolio"])


@router.get("", response=PortfolioOut, summary="Cash, total value and positions at live prices")
def portfolio(request):
    return selectors.portfolio()


@router.post(
    "/trade",
    response={201: TradeOut, 400: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Market order, filled at once at the current price",
)
async def trade(request, payload: TradeIn, response: HttpResponse):
    fill = await write(
        services.execute_trade,
        ticker=payload.ticker,
        side=payload.side,
        quantity=payload.quantity,
        client_order_id=payload.client_order_id,
    )
    if fill.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, fill)


@router.get(
    "/history",
    response={200: list[SnapshotOut], 422: ErrorOut},
    summary="Total portfolio value over time, at most `points` snapshots evenly spaced (the latest always included)",
)
def history(request, filters: Query[HistoryQuery]):
    series = selectors.snapshot_series(since=filters.since, until=filters.until, max_points=filters.points)
    return [SnapshotOut(total_value=value, recorded_at=at) for value, at in series]
