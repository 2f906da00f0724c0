"""JSON API of the portfolio: valuation, market orders, value history, the trades (SPEC §6), and orders of every
type (issue 22), named as a broker's order API names them."""

from __future__ import annotations

import csv
import io

from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Path, Query, Router, Status

from core.api_errors import ErrorOut
from core.db import write
from core.fastpath import database_version, json_body, reads
from market.tickers import normalize_ticker
from portfolio import orders, selectors, services
from portfolio.models import Trade
from portfolio.schemas import (
    HistoryQuery,
    OrderIn,
    OrderOut,
    OrdersCanceledOut,
    OrdersQuery,
    PortfolioOut,
    SnapshotOut,
    TradeIn,
    TradeOut,
    TradeRecordOut,
    TradesPageOut,
    TradesQuery,
    api_time,
)

router = Router(tags=["portfolio"])
trades_router = Router(tags=["portfolio"])  # under /api/trades
orders_router = Router(tags=["orders"])  # under /api/orders
export_router = Router(tags=["portfolio"])  # /api/trades.csv


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


CSV_COLUMNS = ("executed_at", "id", "side", "ticker", "quantity", "price", "notional", "realized_pnl",
               "client_order_id")


def _price_text(price) -> str:
    """A price as written in the export: to the cent at least, and to its 1/10,000 where it has them."""
    price = price.normalize()
    return f"{price:.2f}" if price.as_tuple().exponent >= -2 else f"{price:f}"


# A spreadsheet reads a cell that starts with one of these as a formula: text a client chose (its order ids) is
# written with a leading apostrophe, the convention spreadsheets show as plain text (OWASP's CSV injection advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def _csv_rows(user_id: str, first: list):
    """The export a chunk at a time; `first` is read before the response starts, so a database that cannot be
    read is an error status, not a 200 cut short."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows = first
    while True:
        for at, pk, side, ticker, quantity, price, realized, client_order_id in rows:
            writer.writerow([
                api_time(at), pk, side, ticker, f"{quantity.normalize():f}", _price_text(price),
                f"{Trade(side=side, quantity=quantity, price=price).notional:f}",
                "" if realized is None else f"{realized:f}",
                _text_cell(client_order_id or ""),
            ])
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
        if len(rows) < selectors.EXPORT_CHUNK:
            return
        rows = await sync_to_async(selectors.trades_after)(user_id=user_id, after=(rows[-1][0], rows[-1][1]))


@export_router.get(
    "/trades.csv",
    summary="Every trade of the book, oldest first, as CSV (a spreadsheet's or a tax tool's import): executed_at "
    "(UTC), id, side, ticker, quantity, price, notional, realized_pnl, client_order_id",
    openapi_extra={"responses": {200: {"description": "text/csv", "content": {"text/csv": {}}}}},
)
async def trades_csv(request):
    first = await sync_to_async(selectors.trades_after)(user_id=request.book, after=None)
    response = StreamingHttpResponse(_csv_rows(request.book, first), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="finally-trades-{stamp}.csv"'
    return response


ORDER_ID = Path(..., min_length=1, max_length=64, pattern=r"^[0-9a-f-]+$", description="The order's id.")


def _order_json(order, status: int = 200) -> HttpResponse:
    return HttpResponse(
        OrderOut.model_validate(order).model_dump_json(), status=status, content_type="application/json; charset=utf-8"
    )


@orders_router.post(
    "",
    response={201: OrderOut, 400: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Place an order: market (fills at once), limit, stop or stop_limit (rest until a tick reaches them); "
    "a limit the live price already reaches fills at once, at that price",
)
async def place_order(request, payload: OrderIn):
    order = await write(orders.place_order, user_id=request.book, **payload.model_dump())
    response = _order_json(order, status=201)
    if order.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@orders_router.get(
    "", response={200: list[OrderOut], 422: ErrorOut}, summary="The orders, newest first: open (default), closed or all"
)
def list_orders(request, filters: Query[OrdersQuery]):
    ticker = normalize_ticker(filters.ticker) if filters.ticker is not None else None
    rows = selectors.orders(user_id=request.book, status=filters.status, ticker=ticker, limit=filters.limit)
    return [OrderOut.model_validate(o) for o in rows]


@orders_router.delete(
    "", response={200: OrdersCanceledOut}, summary="Cancel every open order; how many were canceled"
)
async def cancel_all_orders(request):
    return OrdersCanceledOut(canceled=await write(orders.cancel_all, user_id=request.book))


@orders_router.get("/{order_id}", response={200: OrderOut, 404: ErrorOut, 422: ErrorOut}, summary="One order")
def get_order(request, order_id: str = ORDER_ID):
    return OrderOut.model_validate(selectors.order(user_id=request.book, order_id=order_id))


@orders_router.delete(
    "/{order_id}",
    response={200: OrderOut, 404: ErrorOut, 422: ErrorOut},
    summary="Cancel an open order, releasing what it holds back; 422 with its status if it has filled or closed",
)
async def cancel_order(request, order_id: str = ORDER_ID):
    order = await write(orders.cancel_order, user_id=request.book, order_id=order_id)
    return _order_json(order)
