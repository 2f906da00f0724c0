"""JSON API of the portfolio: valuation, market orders, value history and the trades (SPEC §6)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from ninja import Query, Router, Status

from core.db import write
from core.api_errors import ErrorOut, StrictJSONParser
from portfolio import selectors, services
from market.tickers import normalize_ticker
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
def portfolio(request):
    return selectors.portfolio()


async def _fill(payload: TradeIn) -> services.Fill:
    return await write(
        services.execute_trade,
        ticker=payload.ticker,
        side=payload.side,
        quantity=payload.quantity,
        client_order_id=payload.client_order_id,
    )


# The order as django-ninja binds it: this declaration is what /api/openapi.json documents (a docstring here would
# show there). The URL itself is served by `place_order` below, which finally_site/urls.py routes first; a test
# (portfolio/tests/test_api.py) holds the two to the same answers for the same requests.
@router.post(
    "/trade",
    response={201: TradeOut, 400: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut},
    summary="Market order, filled at once at the current price; 503 with Retry-After while prices are not live "
    "(send it again with the same client_order_id)",
)
async def trade(request, payload: TradeIn, response: HttpResponse):
    fill = await _fill(payload)
    if fill.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, fill)


_parser = StrictJSONParser()


async def place_order(request: HttpRequest) -> HttpResponse:
    """POST /api/portfolio/trade as a plain async view: every user action that trades comes through here.

    django-ninja's per-request machinery (operation lookup, parameter models, a temporary response, response
    validation through a wrapper model) was about a quarter of an order's CPU (bench/README.md). This does the
    same steps directly with the same pieces: the API's JSON parser, the TradeIn and TradeOut schemas (TradeOut
    writes its own JSON); errors are raised to the API's own exception handlers (finally_site.api.served_plain).
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    payload = TradeIn.model_validate(_parser.parse_body(request))
    fill = await _fill(payload)
    body = TradeOut.model_validate(fill).model_dump_json()
    response = HttpResponse(body, status=201, content_type="application/json; charset=utf-8")
    if fill.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


@router.get(
    "/history",
    response={200: list[SnapshotOut], 422: ErrorOut},
    summary="Total portfolio value over time, at most `points` snapshots evenly spaced (the latest always included)",
)
def history(request, filters: Query[HistoryQuery]):
    series = selectors.snapshot_series(since=filters.since, until=filters.until, max_points=filters.points)
    return [SnapshotOut(total_value=value, recorded_at=at) for value, at in series]


@trades_router.get(
    "",
    response={200: TradesPageOut, 404: ErrorOut, 422: ErrorOut},
    summary="The trades, newest first, a page at a time (the blotter); filter by ticker and side",
)
def trades(request, filters: Query[TradesQuery]):
    try:
        rows, next_before = selectors.trades_page(
            ticker=normalize_ticker(filters.ticker) if filters.ticker is not None else None,
            side=filters.side,
            limit=filters.limit,
            before=filters.before,
        )
    except selectors.NoSuchTrade as exc:
        return Status(404, {"error": str(exc)})
    return TradesPageOut(trades=[TradeRecordOut.model_validate(t) for t in rows], next_before=next_before)
