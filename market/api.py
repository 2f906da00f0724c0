"""JSON API of the market app: health, the watchlist and the price stream (SPEC §6)."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse
from ninja import Query, Router, Status

from core.api_errors import ErrorOut
from core.db import discard_broken_connections
from core.fastpath import database_version, json_body, reads
from market import selectors, services
from market.quotes import FeedStatus, StoreUnavailable, iso_utc
from market.schemas import (
    BarOut,
    BarsOut,
    BarsQuery,
    FeedOut,
    HealthOut,
    QuoteOut,
    StreamQuoteOut,
    TickerText,
    WatchlistAddIn,
)
from market.sse import JSON_FORMAT, open_stream
from market.store import get_store
from market.tickers import normalize_ticker

router = Router(tags=["market"])


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        discard_broken_connections()
        return False


@router.get(
    "/health",
    response={200: HealthOut, 503: HealthOut},
    summary="Liveness, and whether prices are fresh; 503 when the database or the price store is unreachable",
)
def health(request, response: HttpResponse):
    database = _database_answers()
    store = get_store()
    try:
        status = store.status()
        reachable = True
    except StoreUnavailable:
        status = FeedStatus(None, None, None, None, "the price store is unreachable", ())
        reachable = False
    fresh = status.is_fresh()
    age = status.age()
    body = HealthOut(
        status="ok" if database and reachable and fresh else "degraded" if database and reachable else "down",
        database=database,
        database_engine=connection.vendor,
        store=reachable,
        store_kind=store.kind,
        prices=FeedOut(
            source=status.source,
            fresh=fresh,
            age_seconds=round(age, 3) if age is not None else None,
            last_tick_at=iso_utc(status.last_tick_at) if status.last_tick_at else None,
            error=status.error,
            unknown_tickers=list(status.unknown),
            notice=status.notice,
        ),
    )
    if not (database and reachable):
        response["Retry-After"] = str(settings.API_RETRY_AFTER_SECONDS)
        return Status(503, body)
    return Status(200, body)


@router.get("/watchlist", response=list[QuoteOut], summary="The watchlist with live prices")
async def watchlist(request):
    book = request.book

    def make():
        watched = selectors.watchlist_quotes(user_id=book)
        body = json_body(list[QuoteOut], [QuoteOut.build(w.ticker, w.quote, w.status) for w in watched])
        # A priced quote turns stale by time alone when the worker stops: the answer lasts until the first does.
        return body, min((w.live_until for w in watched if w.live_until is not None), default=None)

    # The watchlist's rows are in the database, its quotes in the price store.
    versions = (database_version(), selectors.prices_version())
    return await reads.answer(("watchlist", book), versions, make)


@router.post(
    "/watchlist",
    response={201: QuoteOut, 400: ErrorOut, 409: ErrorOut},
    summary="Add a ticker; it is priced from the worker's next tick",
)
def watchlist_add(request, payload: WatchlistAddIn):
    entry = services.add_ticker(user_id=request.book, ticker=payload.ticker)
    quote = get_store().latest(entry.ticker)  # usually None: a held ticker is priced already
    return Status(201, QuoteOut.build(entry.ticker, quote, "priced" if quote else "pending"))


@router.delete(
    "/watchlist/{ticker}",
    response={204: None, 400: ErrorOut, 404: ErrorOut},
    summary="Remove a ticker; a held ticker stays priced until its position is closed",
)
def watchlist_remove(request, ticker: TickerText):
    services.remove_ticker(user_id=request.book, ticker=ticker)
    return Status(204, None)


@router.get(
    "/bars/{ticker}",
    response={200: BarsOut, 400: ErrorOut, 422: ErrorOut},
    summary="OHLC bars of one ticker (1m, 5m, 15m, 1h, 1d), oldest first, built from the minute bars the worker keeps "
    "(PRICE_BARS_DAYS); history starts when the ticker was first priced here",
)
def bars(request, ticker: TickerText, filters: Query[BarsQuery]):
    ticker = normalize_ticker(ticker)
    found = selectors.bars(ticker, filters.timeframe, filters.limit)
    return BarsOut(
        ticker=ticker, timeframe=filters.timeframe,
        bars=[BarOut(t=iso_utc(b.t), o=b.o, h=b.h, l=b.l, c=b.c) for b in found],
    )


@router.get(
    "/stream/prices",
    summary="Server-sent events: one JSON event per priced ticker at every tick",
    openapi_extra={
        "responses": {
            200: {
                "description": "An endless text/event-stream; each event's data is a quote object.",
                "content": {"text/event-stream": {"schema": StreamQuoteOut.model_json_schema()}},
            },
            503: {
                "description": "This web process has MAX_STREAMS_PER_PROCESS streams open; retry after Retry-After.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
                "content": {"application/json": {"schema": ErrorOut.model_json_schema()}},
            },
        }
    },
)
async def stream_prices(request):
    return await open_stream(JSON_FORMAT)
