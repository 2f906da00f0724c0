"""Request and response shapes of the market's JSON API; the OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from market.exceptions import InvalidTicker
from market.quotes import Quote
from market.tickers import MAX_TICKER_LENGTH, normalize_ticker

# A ticker as the API takes it: what normalize_ticker accepts (any case, ASCII blanks around it), and the schema
# itself refuses anything else (422), so that the document and the server say the same.
_BLANKS = r"[ \t\n\r\x0b\x0c]*"
TICKER_PATTERN = rf"^{_BLANKS}[A-Za-z0-9][A-Za-z0-9.\-]{{0,{MAX_TICKER_LENGTH - 1}}}{_BLANKS}$"
TICKER_TEXT_MAX = 32


def _in_the_ticker_rules_words(value: object, handler: ValidatorFunctionWrapHandler) -> str:
    """A ticker the schema refuses is explained as the ticker rule explains it ("non-ASCII character U+0131"),
    not by the pattern, which no trader should have to read."""
    try:
        return handler(value)
    except ValidationError:
        try:
            normalize_ticker(value)
        except InvalidTicker as exc:
            raise PydanticCustomError("ticker", str(exc)) from None
        # normalize_ticker would take it (blanks other than ASCII around it, say), but the API says no.
        raise PydanticCustomError(
            "ticker", "Not a ticker: use letters, digits, '.' or '-' (for example AAPL, BRK.B)."
        ) from None


TickerText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=TICKER_TEXT_MAX,
        pattern=TICKER_PATTERN,
        description=f"A symbol such as AAPL or BRK.B: letters, digits, '.' or '-', at most {MAX_TICKER_LENGTH} "
        "(read in upper case, blanks around it ignored).",
        examples=["AAPL"],
    ),
    WrapValidator(_in_the_ticker_rules_words),
]


class QuoteOut(Schema):
    ticker: str
    price: float | None
    prev_price: float | None
    open_price: float | None
    direction: str | None
    timestamp: str | None
    change_percent: float | None
    status: Literal["priced", "stale", "pending", "unknown"] = Field(
        description="stale: its source has stopped sending this ticker's price (a halt, a delisting) for longer than "
        "the feed's staleness limit, so it cannot be traded; pending: no price until the worker's next tick; "
        "unknown: the price source does not know it."
    )

    @classmethod
    def build(cls, ticker: str, quote: Quote | None, status: str) -> QuoteOut:
        if quote is None:
            return cls(
                ticker=ticker, price=None, prev_price=None, open_price=None, direction=None, timestamp=None,
                change_percent=None, status=status,
            )
        return cls(**quote.as_dict(), change_percent=round(quote.change_percent, 4), status=status)


class StreamQuoteOut(Schema):
    """One event of the price stream (SPEC §6): a priced ticker's quote, nothing else."""

    ticker: str
    price: float
    prev_price: float
    open_price: float
    direction: Literal["up", "down", "flat"]
    timestamp: str = Field(description="When the price was observed, ISO 8601 in UTC.")


class WatchlistAddIn(Schema):
    ticker: TickerText


class FeedOut(Schema):
    source: str | None
    fresh: bool
    age_seconds: float | None
    last_tick_at: str | None
    error: str | None
    unknown_tickers: list[str]
    notice: str | None = Field(
        default=None, description="A standing remark about the source, e.g. a Massive plan with end-of-day prices only."
    )


class HealthOut(Schema):
    status: Literal["ok", "degraded", "down"] = Field(
        description="ok: all answers and prices are fresh; degraded: prices are stale; down (503): the database "
        "or the price store is unreachable."
    )
    database: bool
    database_engine: str = Field(description="sqlite or postgresql")
    store: bool = Field(description="Whether the price store answers.")
    store_kind: str = Field(description="sqlite (embedded) or redis (scale-out)")
    prices: FeedOut


class BarOut(Schema):
    t: str = Field(description="The bar's start, ISO 8601 UTC")
    o: float
    h: float
    l: float  # noqa: E741  (open, high, low, close: the names every chart library uses)
    c: float


class BarsOut(Schema):
    ticker: str
    timeframe: Literal["1m", "5m", "15m", "1h", "1d"]
    bars: list[BarOut] = Field(description="Oldest first; a minute with no price has no bar (gaps are gaps)")


class BarsQuery(Schema):
    timeframe: Literal["1m", "5m", "15m", "1h", "1d"] = "1m"
    limit: int = Field(300, ge=1, le=1000, description="How many bars, the newest")
