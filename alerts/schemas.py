from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field

from market.schemas import TickerText
from portfolio.schemas import DecimalText


class AlertIn(BaseModel):
    ticker: TickerText
    condition: Literal["above", "below"] = Field(description="above: fires at or above the price; below: at or below.")
    price: DecimalText = Field(description="Whole cents at $1.00 or more; to 4 decimals below.", examples=[200])


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    ticker: str
    condition: Literal["above", "below"]
    price: float
    status: Literal["active", "fired", "canceled"]
    created_at: datetime
    fired_at: datetime | None = Field(description="When a live price reached it; null until then.")
    fired_price: float | None = Field(description="The live price that fired it.")
    canceled_at: datetime | None


class AlertsQuery(Schema):
    status: Literal["active", "history", "all"] = Field("all", description="history: fired and canceled.")
    limit: int = Field(100, ge=1, le=500, description="At most this many, newest first.")
