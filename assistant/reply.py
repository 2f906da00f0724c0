"""What the model must answer (sent to it as a JSON schema) and how its answer is read.

The schema sent is strict, but a reply is read leniently, one item at a time: an item the engine could never
execute (a negative quantity, a ticker like `../x`) becomes a `rejected` action with its reason instead of
failing the whole reply, and the rest still runs. Only a reply with no readable `message` is an error.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from portfolio.exceptions import InvalidOrder
from portfolio.services import clean_quantity

# Bounds on one reply: a runaway model cannot place 500 orders in one turn.
MAX_TRADES = 20
MAX_WATCHLIST_CHANGES = 20
MAX_CANCELS = 20
MAX_ALERTS = 20
MAX_MESSAGE_CHARS = 4000
# A field of an action the model sent is echoed back (stored, shown, summarized for the next turn) at most this long.
MAX_FIELD_CHARS = 32


def storable(text: str) -> str:
    """Text any database stores: no NUL (PostgreSQL refuses it), no unpaired surrogate (not UTF-8 at all)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


class TradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticker: str = Field(description="Ticker symbol, e.g. AAPL")
    side: Literal["buy", "sell"]
    quantity: float = Field(description="Number of shares (fractions allowed, up to 4 decimals)")
    type: Literal["market", "limit", "stop", "stop_limit"] = Field(
        "market", description="market fills now; limit, stop and stop_limit rest until their price comes"
    )
    limit_price: float | None = Field(None, description="limit and stop_limit: the worst price to fill at")
    stop_price: float | None = Field(None, description="stop and stop_limit: the price that triggers it")
    time_in_force: Literal["day", "gtc"] = Field(
        "day", description="day: expires at the session's end; gtc: until canceled"
    )


class WatchlistChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticker: str
    action: Literal["add", "remove"]


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticker: str = Field(description="A ticker on the watchlist or held")
    condition: Literal["above", "below"] = Field(description="above: at or above the price; below: at or below")
    price: float


class AssistantReply(BaseModel):
    """The structured output asked of the model (SPEC §7)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="What to tell the user: concise, data-driven")
    trades: list[TradeRequest] = Field(
        default_factory=list, description="Orders to place: market orders fill now, the others rest until their price"
    )
    watchlist_changes: list[WatchlistChangeRequest] = Field(default_factory=list)
    cancel_orders: list[str] = Field(
        default_factory=list,
        description="Open orders (or active alerts) to cancel, by the id the context lists, or 'all' (orders)",
    )
    alerts: list[AlertRequest] = Field(
        default_factory=list, description="Price alerts to set: each fires once, when a live price reaches it"
    )


class ReplyError(ValueError):
    """The model's answer cannot be read as a reply at all."""


@dataclass
class ParsedReply:
    message: str
    # Each item as the model sent it, reduced to the fields we know; `problem` says why it cannot run.
    trades: list[dict] = field(default_factory=list)
    watchlist_changes: list[dict] = field(default_factory=list)
    cancels: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _json_object(text: str) -> dict:
    """The reply's JSON object: bare, inside a code fence, or the first balanced {...} in prose."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        candidates.append(_balanced(text, start))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            value = json.loads(candidate, parse_constant=str, parse_float=_number, parse_int=_number)
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            continue
        if isinstance(value, dict):
            return value
    raise ReplyError("The model's reply was not a JSON object.")


def _number(text: str) -> float | str:
    """A JSON number as a float, or as its text when no float holds it (1e400, 5,000 digits): the engine
    then refuses it by name, and nothing infinite reaches a JSON column."""
    if len(text) > 40:
        return text
    value = float(text)
    return value if math.isfinite(value) else text


def _echo(value: object) -> object:
    """A field as the model sent it, fit to store and to show: a finite number, or short text."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):  # only from outside JSON; _number reads every JSON number
        return float(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = storable(text)
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 1] + "…"


def _quantity_problem(quantity: object) -> str | None:
    if isinstance(quantity, bool) or not isinstance(quantity, (int, float, str)):
        return "Quantity must be a number."
    if isinstance(quantity, str):
        # Text is read as the trade bar reads it (a plain decimal: 1e3 is not a thousand shares) and refused in its
        # words. A number is the engine's to judge when it executes.
        try:
            clean_quantity(quantity)
        except InvalidOrder as exc:
            return str(exc)
    return None


def _balanced(text: str, start: int) -> str:
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return ""


def _items(value: object, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReplyError(f"The model's `{name}` was not a list.")
    return value


# An order's fields beyond a market order's, as the model sent them; the engine (portfolio.orders) judges them.
ORDER_FIELDS = ("type", "limit_price", "stop_price", "time_in_force")


def _trade(item: object) -> dict:
    if not isinstance(item, dict):
        return {"ticker": None, "side": None, "quantity": None, "problem": "Not a trade object."}
    ticker, side, quantity = item.get("ticker"), item.get("side"), item.get("quantity")
    trade = {"ticker": _echo(ticker), "side": _echo(side), "quantity": _echo(quantity)}
    trade.update({key: _echo(item[key]) for key in ORDER_FIELDS if item.get(key) is not None})
    if not isinstance(ticker, str):
        trade["problem"] = "The trade has no ticker."
    elif side not in ("buy", "sell"):
        trade["problem"] = "Side must be 'buy' or 'sell'."
    elif problem := _quantity_problem(quantity):
        trade["problem"] = problem
    return trade


ORDER_ID = re.compile(r"[0-9a-f-]{4,36}")  # a whole order id (a UUID) or its short form, the tail the page lists


def _cancel(item: object) -> dict:
    # Kept whole, not cut to MAX_FIELD_CHARS as other fields are: a 36-character id cut short names no order.
    given = item.strip().lower() if isinstance(item, str) else ""
    if given != "all" and not ORDER_ID.fullmatch(given):
        return {"order_id": _echo(item), "problem": "Not an order id."}
    return {"order_id": given}


def _alert(item: object) -> dict:
    if not isinstance(item, dict):
        return {"ticker": None, "condition": None, "price": None, "problem": "Not an alert object."}
    ticker, condition, price = item.get("ticker"), item.get("condition"), item.get("price")
    alert = {"ticker": _echo(ticker), "condition": _echo(condition), "price": _echo(price)}
    if not isinstance(ticker, str):
        alert["problem"] = "The alert has no ticker."
    elif condition not in ("above", "below"):
        alert["problem"] = "Condition must be 'above' or 'below'."
    elif isinstance(price, bool) or not isinstance(price, (int, float, str)):
        alert["problem"] = "Price must be a number."
    return alert


def _change(item: object) -> dict:
    if not isinstance(item, dict):
        return {"ticker": None, "action": None, "problem": "Not a watchlist change object."}
    ticker, action = item.get("ticker"), item.get("action")
    change = {"ticker": _echo(ticker), "action": _echo(action)}
    if not isinstance(ticker, str):
        change["problem"] = "The watchlist change has no ticker."
    elif action not in ("add", "remove"):
        change["problem"] = "Action must be 'add' or 'remove'."
    return change


def parse_reply(text: str | None) -> ParsedReply:
    if not text or not text.strip():
        raise ReplyError("The model returned an empty reply.")
    data = _json_object(text)
    message = data.get("message")
    if not isinstance(message, str):
        raise ReplyError("The model's reply had no message.")
    trades = [_trade(item) for item in _items(data.get("trades"), "trades")]
    changes = [_change(item) for item in _items(data.get("watchlist_changes"), "watchlist_changes")]
    cancels = [_cancel(item) for item in _items(data.get("cancel_orders"), "cancel_orders")]
    alerts = [_alert(item) for item in _items(data.get("alerts"), "alerts")]
    for extra in alerts[MAX_ALERTS:]:
        extra["problem"] = f"Not set: at most {MAX_ALERTS} alerts in one reply."
    for extra in cancels[MAX_CANCELS:]:
        extra["problem"] = f"Not done: at most {MAX_CANCELS} cancels in one reply."
    for extra in trades[MAX_TRADES:]:
        extra["problem"] = f"Not executed: at most {MAX_TRADES} trades in one reply."
    for extra in changes[MAX_WATCHLIST_CHANGES:]:
        extra["problem"] = f"Not executed: at most {MAX_WATCHLIST_CHANGES} watchlist changes in one reply."
    return ParsedReply(message=storable(message)[:MAX_MESSAGE_CHARS], trades=trades, watchlist_changes=changes,
                       cancels=cancels, alerts=alerts)
