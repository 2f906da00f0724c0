"""Request and response shapes of the assistant's JSON API (SPEC §6-7); in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from assistant.reply import MAX_MESSAGE_CHARS

# What services.clean_message accepts, so that the document and the server say the same: at least one character
# that str.strip() keeps (the blanks below are exactly those it removes), no NUL, at most MAX_MESSAGE_CHARS.
# Written out rather than as \s, whose meaning differs between Python, JSON Schema (ECMA 262) and pydantic's regex.
_BLANKS = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
MESSAGE_PATTERN = f"^[^\x00]*[^\x00{_BLANKS}][^\x00]*$"


def _in_words(value: object, handler: ValidatorFunctionWrapHandler) -> str:
    """A message the pattern refuses is explained in words (as services.clean_message says it), not by the
    pattern, which no one should have to read."""
    try:
        return handler(value)
    except ValidationError as exc:
        if exc.errors()[0]["type"] != "string_pattern_mismatch":
            raise
        if "\x00" in value:
            raise PydanticCustomError("message", "The message contains a NUL character, which is not text.") from None
        raise PydanticCustomError("message", "Write a message for the assistant: it holds only blanks.") from None


MessageText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        pattern=MESSAGE_PATTERN,
        description=f"At most {MAX_MESSAGE_CHARS:,} characters, not only blanks.",
        examples=["How concentrated is my portfolio?"],
    ),
    WrapValidator(_in_words),
]


class ChatIn(Schema):
    message: MessageText
    client_message_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Your own id for this message: a retry with the same id returns the first answer and runs "
        "nothing again (409 while the first is still being answered, or if the id was used for another message).",
        examples=["msg-2026-04-10-0001"],
    )


class TradeActionOut(Schema):
    ticker: Any = Field(description="As the model sent it (normalized when executed).")
    side: Any
    quantity: Any
    status: Literal["executed", "placed", "rejected"] = Field(
        description="executed: filled now; placed: resting as an open order (order_id); rejected: error says why."
    )
    price: float | None
    notional: float | None
    executed_at: str | None
    error: str | None
    type: Any = Field("market", description="market, limit, stop or stop_limit, as the model sent it.")
    limit_price: Any = None
    stop_price: Any = None
    time_in_force: Any = None
    order_id: str | None = Field(None, description="The order placed (GET /api/orders/{id}), for a non-market order.")


class CancelActionOut(Schema):
    order_id: Any = Field(description="As the model sent it: an open order's id (or its last characters), or 'all'.")
    status: Literal["executed", "rejected"]
    error: str | None
    canceled: int | None = Field(None, description="For 'all': how many open orders were canceled.")


class AlertActionOut(Schema):
    ticker: Any = Field(description="As the model sent it (normalized when set).")
    condition: Any
    price: Any
    status: Literal["executed", "rejected"] = Field(description="executed: the alert is set (alert_id).")
    alert_id: str | None = Field(None, description="The alert set (GET /api/alerts).")
    error: str | None


class WatchlistActionOut(Schema):
    ticker: Any
    action: Any
    status: Literal["executed", "rejected"]
    error: str | None


class ChatReplyOut(Schema):
    id: str | None = Field(description="The stored reply's id; null when the assistant is not configured.")
    message: str
    trades: list[TradeActionOut]
    watchlist_changes: list[WatchlistActionOut]
    cancels: list[CancelActionOut] = Field(description="Open orders the assistant canceled (or could not).")
    alerts: list[AlertActionOut] = Field(default_factory=list, description="Price alerts the assistant set.")
    error: str | None = Field(description="Why the assistant could not answer; the message says the same.")
    created_at: datetime | None


class ChatMessageOut(Schema):
    id: str
    role: Literal["user", "assistant"]
    content: str
    actions: dict | None
    error: str | None
    created_at: datetime

    @staticmethod
    def resolve_error(obj) -> str | None:
        return obj.error or None
