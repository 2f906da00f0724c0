"""Request and response shapes of the portfolio's JSON API; the OpenAPI document is generated from these."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_serializer,
    field_validator,
)

from market.schemas import TickerText
from portfolio.money import MAX_QUANTITY
from portfolio.selectors import HISTORY_MAX_POINTS, TRADES_MAX_LIMIT, TRADES_PAGE


# The order's two shapes are plain pydantic models, not ninja Schemas: a Schema wraps every input in an adapter that
# reads Django model instances, which these never see, and that wrapping was half the cost of validating them on
# the path every order takes (bench/README.md). ninja documents and validates both exactly as before.
class TradeIn(BaseModel):
    ticker: TickerText
    # strict: "10" (a string) or true are refused rather than coerced; the engine re-checks the range.
    quantity: Annotated[float, Field(strict=True, gt=0, le=float(MAX_QUANTITY), examples=[10])]
    side: Literal["buy", "sell"]
    client_order_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Your own id for this order: a retry with the same id returns the first fill and trades nothing.",
        examples=["order-2026-04-10-0001"],
    )


# A time written as text by a serializer, still documented as a date-time.
DateTimeText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class PositionOut(Schema):
    ticker: str
    quantity: float
    avg_cost: float
    cost_basis: float
    current_price: float | None
    market_value: float
    unrealized_pnl: float
    change_percent: float = Field(
        validation_alias="unrealized_pnl_percent", description="Unrealized P&L in percent of cost."
    )
    day_change_percent: float | None = Field(description="Price change since the session open.")
    weight: float = Field(description="Share of the invested value (0-1).")


class PortfolioOut(Schema):
    cash_balance: float
    buying_power: float = Field(description="Cash less what resting buy orders hold back: what a new buy may spend.")
    total_value: float
    invested_value: float
    unrealized_pnl: float
    realized_pnl: float
    positions: list[PositionOut]


class SnapshotOut(Schema):
    total_value: float
    recorded_at: datetime


# A day of slack either side: a local time the pattern accepts (1970 to 2199), at any offset, is in range in UTC.
EARLIEST = datetime(1969, 12, 31, tzinfo=UTC)
LATEST = datetime(2200, 1, 2, tzinfo=UTC)


# A time in a query: ISO 8601 only (2026-04-10, 2026-04-10T12:00:00Z), from 1970 to 2199. Pydantic would also read
# a number such as 0.5 as seconds since 1970; this pattern refuses it (422), and the document carries it.
ISO_8601 = (
    r"^(19[7-9][0-9]|2[01][0-9]{2})-[0-9]{2}-[0-9]{2}"
    r"([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?)?$"
)
TimeText = Annotated[datetime, WithJsonSchema({"type": "string", "format": "date-time", "pattern": ISO_8601})]


class HistoryQuery(Schema):
    since: TimeText | None = Field(None, description="Only snapshots at or after this time (ISO 8601).")
    until: TimeText | None = Field(None, description="Only snapshots at or before this time (ISO 8601).")
    points: int = Field(HISTORY_MAX_POINTS, ge=2, le=5000, description="At most this many points.")

    @field_validator("since", "until", mode="before")
    @classmethod
    def iso_8601_only(cls, value: object) -> object:
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not re.fullmatch(ISO_8601, value):
            raise ValueError("must be a time in ISO 8601 from 1970 to 2199, such as 2026-04-10T12:00:00Z")
        return value

    @field_validator("since", "until")
    @classmethod
    def within_reason(cls, value: datetime | None) -> datetime | None:
        """Dates the database can compare: year 1 or 9999 with an offset overflowed into a 500."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("must be a time between 1970 and 2200") from None
        if not EARLIEST <= value <= LATEST:
            raise ValueError("must be a time between 1970 and 2200")
        return value


class TradesQuery(Schema):
    ticker: TickerText | None = Field(None, description="Only this ticker's trades.")
    side: Literal["buy", "sell"] | None = Field(None, description="Only buys or only sells.")
    limit: int = Field(TRADES_PAGE, ge=1, le=TRADES_MAX_LIMIT, description="At most this many trades.")
    before: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[0-9a-f-]+$",
        description="A trade's id (the previous page's `next_before`): only trades older than it.",
    )


class TradeRecordOut(BaseModel):
    """A trade as recorded: the blotter's row, and (with the cash it left) an order's answer."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    ticker: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float
    notional: float
    realized_pnl: float | None
    executed_at: datetime
    client_order_id: str | None

    @field_serializer("executed_at")
    def _to_the_millisecond(self, at: datetime) -> DateTimeText:
        # As every time in the API is written (Django's JSON encoder): UTC to the millisecond, with a Z.
        return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TradeOut(TradeRecordOut):
    """An order's answer: the trade, and the cash balance it left."""

    cash_balance: float


class TradesPageOut(BaseModel):
    trades: list[TradeRecordOut] = Field(description="Newest first.")
    next_before: str | None = Field(
        description="Pass as `before` for the next, older page; null when there are no older trades."
    )


# Quantities and prices as a broker's API takes them: a JSON number, or a decimal written as a string ("10.5"), as
# Alpaca's clients send them. The engine reads both by one rule (portfolio.services.clean_quantity, to_price).
# Strict: true is not 1 share or $1, nor 10 (an int) first made 10.0 by a lax float and then read.
DecimalText = Annotated[
    StrictFloat | StrictInt | StrictStr,
    WithJsonSchema({"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]}),
]


class OrderIn(BaseModel):
    ticker: TickerText
    side: Literal["buy", "sell"]
    qty: DecimalText = Field(description="Shares, to 4 decimal places.", examples=[10])
    type: Literal["market", "limit", "stop", "stop_limit"] = "market"
    time_in_force: Literal["day", "gtc"] = Field(
        "day", description="day: expires at the session's end (16:00 ET with real prices; midnight ET with the "
        "simulator); gtc: until filled or canceled."
    )
    limit_price: DecimalText | None = Field(
        None, description="limit and stop_limit orders: the worst price to fill at."
    )
    stop_price: DecimalText | None = Field(None, description="stop and stop_limit orders: the price that triggers it.")
    client_order_id: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Your own id for this order: a retry with the same id returns the first order and places nothing.",
    )


def api_time(at: datetime | None) -> str | None:
    # As every time in the API is written (Django's JSON encoder): UTC to the millisecond, with a Z.
    if at is None:
        return None
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OrderOut(BaseModel):
    """An order, named as a broker's order API names it (Alpaca's)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    client_order_id: str | None
    ticker: str
    side: Literal["buy", "sell"]
    qty: float
    type: Literal["market", "limit", "stop", "stop_limit"]
    time_in_force: Literal["day", "gtc"]
    limit_price: float | None
    stop_price: float | None
    status: Literal["new", "filled", "canceled", "expired", "rejected"]
    filled_qty: float
    filled_avg_price: float | None
    reserved_cash: float = Field(description="Cash a resting buy holds back from buying power (0 once closed).")
    created_at: datetime
    triggered_at: datetime | None = Field(description="When a stop's price was reached.")
    filled_at: datetime | None
    canceled_at: datetime | None
    expired_at: datetime | None
    expires_at: datetime | None = Field(description="A resting day order's expiry; null for gtc.")
    trade_id: str | None = Field(description="The trade its fill made (GET /api/trades).")
    reason: str = Field(description="Why a rejected order could not fill at its price; empty otherwise.")

    @field_serializer("created_at", "triggered_at", "filled_at", "canceled_at", "expired_at", "expires_at")
    def _to_the_millisecond(self, at: datetime | None) -> DateTimeText | None:
        return api_time(at)


class OrdersQuery(Schema):
    status: Literal["open", "closed", "all"] = Field("open", description="open: resting (new); closed: the rest.")
    ticker: TickerText | None = Field(None, description="Only this ticker's orders.")
    limit: int = Field(50, ge=1, le=500, description="At most this many, newest first.")


class OrdersCanceledOut(BaseModel):
    canceled: int = Field(description="How many resting orders were canceled.")
