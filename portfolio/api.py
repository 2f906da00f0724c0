"""JSON API of the portfolio: valuation, market orders, value history and the trades (SPEC §6)."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Query, Router, Status

from core.api_errors import ErrorOut
from core.db import write
from core.fastpath import database_version, json_body, reads
from market.tickers import normalize_ticker
from portfolio import selectors, services
from portfolio.schemas import (
    HistoryQuery,
    PortfolioOut,
    SnapshotOut,
    TradeIn,
    TradeOut,
    TradeRecordOut,
    TradesPageOut,
    TradesQuery,
)

router = Router(tags=["portfolio"])
trades_router = Router(tags=["portfolio"])  # under /api/trades


@router.get("", response=PortfolioOut, summary="Cash, total value and positions at live prices")
async def portfolio(request):
    book = request.book

    def make():
        return json_body(PortfolioOut, selectors.portfolio(user_id=book)), None

    return await reads.answer(("portfolio", book), selectors.book_version(), make)


@router.post(
    "/trade",
    response={201: TradeOut, 400: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Market order, filled at once at the current price; 503 with Retry-After while prices are not live "
    "(send it again with the same client_order_id)",
)
async def trade(request, payload: TradeIn):
    """Every user action that trades comes through here (the trade bar, the command line, the assistant's API)."""
    fill = await write(
        services.execute_trade,
        user_id=request.book,
        ticker=payload.ticker,
        side=payload.side,
        quantity=payload.quantity,
        client_order_id=payload.client_order_id,
    )
    # TradeOut writes its own JSON; returned as a response, ninja sends it as is instead of validating the fill
    # again through a wrapper model of its own.
    response = HttpResponse(
        TradeOut.model_validate(fill).model_dump_json(), status=201, content_type="application/json; charset=utf-8"
    )
    if fill.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.get(
    "/history",
    response={200: list[SnapshotOut], 422: ErrorOut},
    summary="Total portfolio value over time, at most `points` snapshots evenly spaced (the latest always included)",
)
async def history(request, filters: Query[HistoryQuery]):
    book = request.book

    def make():
        series = selectors.snapshot_series(
            user_id=book, since=filters.since, until=filters.until, max_points=filters.points
        )
        return json_body(list[SnapshotOut], [SnapshotOut(total_value=v, recorded_at=at) for v, at in series]), None

    # Snapshots are rows of the database only: its counter alone says whether they changed.
    key = ("portfolio-history", book, filters.since, filters.until, filters.points)
    return await reads.answer(key, (database_version(),), make)


@trades_router.get(
    "",
    response={200: TradesPageOut, 404: ErrorOut, 422: ErrorOut},
    summary="The trades, newest first, a page at a time (the blotter); filter by ticker and side",
)
def trades(request, filters: Query[TradesQuery]):
    try:
        rows, next_before = selectors.trades_page(
            user_id=request.book,
            ticker=normalize_ticker(filters.ticker) if filters.ticker is not None else None,
            side=filters.side,
            limit=filters.limit,
            before=filters.before,
        )
    except selectors.NoSuchTrade as exc:
        return Status(404, {"error": str(exc)})
    return TradesPageOut(trades=[TradeRecordOut.model_validate(t) for t in rows], next_before=next_before)
