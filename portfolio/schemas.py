"""Request and response shapes of the portfolio's JSON API; the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, WithJsonSchema, field_serializer, field_validator

from portfolio.money import MAX_QUANTITY
from portfolio.selectors import HISTORY_MAX_POINTS


# The order's two shapes are plain pydantic models, not ninja Schemas: a Schema wraps every input in an adapter that
# reads Django model instances, which these never see, and that wrapping was half the cost of validating them on
# the path every order takes (bench/README.md). ninja documents and validates both exactly as before.
class TradeIn(BaseModel):
    ticker: str = Field(examples=["AAPL"])
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


class TradeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from the engine's Fill

    id: str
    ticker: str
    side: str
    quantity: float
    price: float
    notional: float
    realized_pnl: float | None
    executed_at: datetime
    cash_balance: float
    client_order_id: str | None

    @field_serializer("executed_at")
    def _to_the_millisecond(self, at: datetime) -> DateTimeText:
        # As every time in the API is written (Django's JSON encoder): UTC to the millisecond, with a Z.
        return at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    total_value: float
    invested_value: float
    unrealized_pnl: float
    realized_pnl: float
    positions: list[PositionOut]


class SnapshotOut(Schema):
    total_value: float
    recorded_at: datetime


EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


class HistoryQuery(Schema):
    since: datetime | None = Field(None, description="Only snapshots at or after this time (ISO 8601).")
    until: datetime | None = Field(None, description="Only snapshots at or before this time (ISO 8601).")
    points: int = Field(HISTORY_MAX_POINTS, ge=2, le=5000, description="At most this many points.")

    @field_validator("since", "until")
    @classmethod
    def within_reason(cls, value: datetime | None) -> datetime | None:
        """Dates the database can compare: year 1 or 9999 with an offset overflowed into a 500."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        try:
            value = value.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise ValueError("must be a time between 1970 and 2200") from None
        if not EARLIEST <= value <= LATEST:
            raise ValueError("must be a time between 1970 and 2200")
        return value
