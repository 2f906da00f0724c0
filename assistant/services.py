"""One chat turn (SPEC §7): context -> model -> execute the actions it asked for -> store both messages.

The model call holds no database transaction or lock, and runs on the event loop (LiteLLM is async). Trades
and watchlist changes go through the same services as the trade bar and the command line; the assistant
checks nothing of its own. Each trade carries a client_order_id made from the id of the message it answers,
so a trade is never filled twice for one message; a client may send its own `client_message_id`, and a retry
with it gets the first answer instead of a second turn (or, while the first is under way, a 409).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from alerts import selectors as alert_selectors
from alerts import services as alert_services
from alerts.exceptions import AlertError, NoSuchAlert
from assistant import llm, mock, selectors
from assistant.models import ChatMessage
from assistant.reply import (
    MAX_MESSAGE_CHARS,
    ORDER_FIELDS,
    AssistantReply,
    ParsedReply,
    ReplyError,
    parse_reply,
    storable,
)
from core.db import new_id, write
from core.formatting import quantity as quantity_text
from market import services as market_services
from market.exceptions import MarketError
from portfolio import orders as portfolio_orders
from portfolio import selectors as portfolio_selectors
from portfolio import services as portfolio_services
from portfolio.exceptions import NoSuchOrder, TradeRejected
from portfolio.models import Trade

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = """You are FinAlly, an AI trading assistant inside a trading workstation with a simulated portfolio.
- Analyze the portfolio's composition, concentration and profit and loss from the context you are given.
- Suggest trades with brief reasons. Execute trades only when the user asks for them or agrees to a suggestion.
- Manage the watchlist when asked (add or remove tickers).
- Market orders fill at once at the current price. Limit, stop and stop_limit orders rest until their price comes
  (a buy limit at or below its limit, a sell limit at or above; a stop when the price reaches it), `day` until the
  session ends or `gtc` until canceled; a resting buy holds back cash (buying power), a resting sell its shares.
  Cancel open orders with `cancel_orders` (the ids the context lists, or "all"). There are no fees. Fake money,
  real discipline.
- Set price alerts with `alerts` (a watched or held ticker, above or below a price): each fires once, when a live
  price reaches it, and the user sees it at once. Cancel an active alert by its id in `cancel_orders`.
- Be concise and data-driven: numbers over adjectives.
- Always answer with valid JSON matching the schema: a `message`, and `trades`, `watchlist_changes`,
  `cancel_orders` and `alerts` (empty lists when there is nothing to do)."""

NOT_CONFIGURED = (
    "The assistant is not configured: set OPENROUTER_API_KEY in .env (or LLM_API_BASE for a local "
    "OpenAI-compatible server, or LLM_MOCK=true for a demo without a model) and restart."
)


# As an order's client_order_id: the client's own id for a message, so that a retry never starts a second turn.
TURN_WINDOW = timedelta(minutes=1)  # ASSISTANT_TURNS_PER_MINUTE counts over this
CLIENT_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}", re.ASCII)


class InvalidMessage(ValueError):
    """The user's message cannot be sent (empty, too long)."""


class ChatConflict(Exception):
    """A retry (the same client_message_id) that cannot be answered as asked; the message says why."""


class TurnBudgetSpent(Exception):
    """The account started ASSISTANT_TURNS_PER_MINUTE turns in the last minute; `retry_after` seconds until the
    next may start. One account cannot spend the deployment's model budget."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MessageIdReused(ChatConflict):
    pass


class MessageInProgress(ChatConflict):
    pass


@dataclass
class Turn:
    """The assistant's side of one turn, as stored and as the API returns it."""

    id: str | None
    message: str
    trades: list[dict] = field(default_factory=list)
    watchlist_changes: list[dict] = field(default_factory=list)
    cancels: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    error: str | None = None
    created_at: datetime | None = None
    # True when a retry (the same client_message_id) got the answer stored the first time: nothing ran again.
    replayed: bool = False


def is_available() -> bool:
    return settings.LLM_MOCK or llm.is_configured()


def clean_message(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidMessage("Write a message for the assistant.")
    text = raw.strip()
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidMessage(f"A message can be at most {MAX_MESSAGE_CHARS:,} characters.")
    if storable(text) != text:
        raise InvalidMessage("The message contains characters that are not text (a NUL or a lone surrogate).")
    return text


def clean_client_message_id(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not CLIENT_MESSAGE_ID.fullmatch(raw):
        raise InvalidMessage("client_message_id must be 1 to 64 of A-Z a-z 0-9 . _ : -")
    return raw


def answering_window() -> timedelta:
    """How long a turn may take (the model's timeout and a margin); a retry within it is told to wait."""
    return timedelta(seconds=settings.LLM_TIMEOUT_SECONDS + 30)


def _model_messages(text: str, history: list[ChatMessage], context: selectors.Context) -> list[dict]:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "system", "content": "Portfolio and watchlist now (JSON): " + context.as_json()},
    ]
    # Each message with the one after it (None after the last). Not strict: with no history the lone None is left over.
    for past, following in zip(history, [*history[1:], None], strict=False):
        if past.error:
            continue  # the model never sees our own failure notices
        answered = following is not None and following.role == ChatMessage.Role.ASSISTANT and not following.error
        if past.role == ChatMessage.Role.USER and not answered:
            # A request that got no answer executed nothing: sent again as if pending, the model might act on it
            # twice (once for it, once for the user's retry).
            continue
        content = past.content
        if past.actions:
            content += "\n[what happened: " + _summary(past.actions) + "]"
        messages.append({"role": past.role, "content": content})
    messages.append({"role": "user", "content": text})
    return messages


def _summary(actions: dict) -> str:
    parts = []
    for t in actions.get("trades", []):
        if t["status"] == "executed":
            outcome = f"at {t['price']}"
        elif t["status"] == "placed":
            outcome = f"resting as order {portfolio_selectors.short_order_id(t['order_id'])}"
        else:
            outcome = f"rejected: {t['error']}"
        quantity = quantity_text(t["quantity"]) if isinstance(t["quantity"], (int, float)) else t["quantity"]
        kind = "" if t.get("type", "market") == "market" else f"{t['type']} "
        parts.append(f"{kind}{t['side']} {quantity} {t['ticker']} {outcome}")
    for c in actions.get("cancels", []):
        outcome = "done" if c["status"] == "executed" else f"rejected: {c['error']}"
        parts.append(f"cancel {c['order_id']} {outcome}")
    for c in actions.get("watchlist_changes", []):
        outcome = "done" if c["status"] == "executed" else f"rejected: {c['error']}"
        parts.append(f"{c['action']} {c['ticker']} {outcome}")
    for a in actions.get("alerts", []):
        outcome = f"set as alert {a['alert_id'][-8:]}" if a["status"] == "executed" else f"rejected: {a['error']}"
        parts.append(f"alert {a['ticker']} {a['condition']} {a['price']} {outcome}")
    return "; ".join(parts) or "nothing"


@dataclass
class Begun:
    """A turn under way: the user's message as stored, the conversation before it, the portfolio now."""

    asked: ChatMessage
    history: list[ChatMessage]
    context: selectors.Context


def _stored_turn(reply: ChatMessage) -> Turn:
    actions = reply.actions or {}
    return Turn(id=reply.id, message=reply.content, trades=actions.get("trades", []),
                watchlist_changes=actions.get("watchlist_changes", []), cancels=actions.get("cancels", []),
                alerts=actions.get("alerts", []), error=reply.error or None,
                created_at=reply.created_at, replayed=True)


def _retry(*, user_id: str, text: str, client_message_id: str) -> ChatMessage | Turn | None:
    """A message sent before with this id: its answer (a Turn), or itself to answer again, or None if new."""
    asked = ChatMessage.objects.filter(
        user_id=user_id, role=ChatMessage.Role.USER, client_message_id=client_message_id
    ).first()
    if asked is None:
        return None
    if asked.content != text:
        raise MessageIdReused(f"client_message_id {client_message_id!r} was already used for a different message.")
    answer = ChatMessage.objects.filter(user_id=user_id, in_reply_to=asked.id, error="").first()
    if answer is not None:
        return _stored_turn(answer)
    # No answer yet. Only one turn may answer it: claim it unless a turn is (or may still be) under way. A
    # failed turn executed nothing and let go of it; a turn cut off (a client gone, a crash) lets go by age.
    now = timezone.now()
    claimable = ChatMessage.objects.filter(
        Q(answering_since__isnull=True) | Q(answering_since__lt=now - answering_window()), pk=asked.pk
    )
    if not claimable.exists():
        raise MessageInProgress("This message is still being answered: wait for the answer, or ask again in a moment.")
    _spend_turn(user_id)  # answering it again calls the model again: a turn like a new message
    claimable.update(answering_since=now)
    return asked


def _spend_turn(user_id: str) -> None:
    """Refuse a turn past the account's budget. The turns of the last minute are the model's answers written in it
    (an answer or a failure, one per call) and the messages being answered now (claimed in it), so a failed
    message asked again counts like a new one."""
    limit = settings.ASSISTANT_TURNS_PER_MINUTE
    now = timezone.now()
    since = now - TURN_WINDOW
    mine = ChatMessage.objects.filter(user_id=user_id)
    answered = mine.filter(role=ChatMessage.Role.ASSISTANT, created_at__gt=since).values_list("created_at", flat=True)
    # Claimed in the window and not answered yet (an answered one is counted by its answer above).
    answering = (
        mine.filter(role=ChatMessage.Role.USER, answering_since__gt=since)
        .exclude(Exists(ChatMessage.objects.filter(in_reply_to=OuterRef("pk"), error="")))
        .values_list("answering_since", flat=True)
    )
    recent = sorted([*answered.order_by("-created_at")[:limit], *answering.order_by("-answering_since")[:limit]],
                    reverse=True)[:limit]
    if len(recent) >= limit:
        wait = max(1, math.ceil((recent[-1] + TURN_WINDOW - now).total_seconds()))
        raise TurnBudgetSpent(
            f"The assistant takes at most {limit} messages a minute from one account: try again in {wait} s.", wait
        )


def _begin(*, user_id: str, text: str, client_message_id: str | None = None) -> Begun | Turn:
    """Keep the user's message (kept whatever happens next), then read the conversation before it and the
    portfolio. A retry of a message answered before gets that answer instead (a Turn). Every turn that will call
    the model, a new message or a failed one asked again, is counted against the account's budget first."""
    try:
        with transaction.atomic():
            # The user's book row first, as a trade takes it: two turns of one account at once count in turn.
            portfolio_services.lock_book(user_id=user_id)
            asked = None
            if client_message_id:
                asked = _retry(user_id=user_id, text=text, client_message_id=client_message_id)
            if isinstance(asked, Turn):
                return asked
            if asked is None:
                _spend_turn(user_id)
                asked = ChatMessage.objects.create(
                    user_id=user_id, role=ChatMessage.Role.USER, content=text, client_message_id=client_message_id,
                    answering_since=timezone.now(),
                )
    except IntegrityError:  # the same id from another web process, a moment ago
        raise MessageInProgress("This message is already being answered.") from None
    history = [m for m in selectors.recent_messages(user_id=user_id) if m.pk != asked.pk]
    context = selectors.context(user_id=user_id)
    return Begun(asked=asked, history=history, context=context)


def _execute_trade(asked_id: str, index: int, item: dict, *, user_id: str) -> dict:
    result = {"ticker": item["ticker"], "side": item["side"], "quantity": item["quantity"], "status": "rejected",
              "price": None, "notional": None, "executed_at": None, "error": item.get("problem")}
    result.update({key: item[key] for key in ORDER_FIELDS if key in item})
    if result["error"]:
        return result
    # Made from the message answered: a second turn for it (a retry after a crash) cannot place it twice.
    client_order_id = f"chat-{asked_id}-{index}"
    try:
        if item.get("type", "market") == "market" and not any(key in item for key in ORDER_FIELDS[1:3]):
            fill = portfolio_services.execute_trade(
                user_id=user_id, ticker=item["ticker"], side=item["side"], quantity=item["quantity"],
                client_order_id=client_order_id,
            )
        else:
            order = portfolio_orders.place_order(
                user_id=user_id, ticker=item["ticker"], side=item["side"], qty=item["quantity"],
                type=item.get("type", "market"), time_in_force=item.get("time_in_force", "day"),
                limit_price=item.get("limit_price"), stop_price=item.get("stop_price"),
                client_order_id=client_order_id,
            )
            result.update(order_id=order.id, ticker=order.ticker, quantity=float(order.qty),
                          time_in_force=order.time_in_force)  # what it is, the default applied, not the model's null
            if order.status != "filled":
                result.update(status="placed", error=None)
                return result
            fill = Trade.objects.get(pk=order.trade_id)
    except TradeRejected as exc:
        result["error"] = str(exc)
        return result
    except DatabaseError:
        logger.exception("assistant trade %s could not be written", item)
        result["error"] = "The trade could not be written to the database."
        return result
    result.update(
        ticker=fill.ticker, quantity=float(fill.quantity), status="executed", price=float(fill.price),
        notional=float(fill.notional), error=None,
        # As the order API writes it: UTC, to the millisecond.
        executed_at=fill.executed_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )
    return result


def _cancel_order(item: dict, *, user_id: str) -> dict:
    """A cancel the model asked for: an open order by the id the context lists (its short form or the whole id),
    or "all"."""
    result = {"order_id": item["order_id"], "status": "rejected", "error": item.get("problem")}
    if result["error"]:
        return result
    target = item["order_id"]
    try:
        if target == "all":
            result["canceled"] = portfolio_orders.cancel_all(user_id=user_id)
        else:
            try:
                order_id = portfolio_selectors.open_order_id(user_id=user_id, given=target)
            except NoSuchOrder as no_order:
                # Not an open order's: an active alert's, as the command line's `cancel <id>` reads it.
                try:
                    alert_id = alert_selectors.active_alert_id(user_id=user_id, given=target)
                except NoSuchAlert:
                    raise no_order from None
                alert_services.cancel_alert(user_id=user_id, alert_id=alert_id)
                result.update(status="executed", error=None, alert=True)
                return result
            portfolio_orders.cancel_order(user_id=user_id, order_id=order_id)
    except (TradeRejected, AlertError) as exc:
        result["error"] = str(exc)
        return result
    result.update(status="executed", error=None)
    return result


def _set_alert(item: dict, *, user_id: str) -> dict:
    result = {"ticker": item["ticker"], "condition": item["condition"], "price": item["price"],
              "status": "rejected", "alert_id": None, "error": item.get("problem")}
    if result["error"]:
        return result
    try:
        alert = alert_services.create_alert(user_id=user_id, ticker=item["ticker"], condition=item["condition"],
                                            price=item["price"])
    except AlertError as exc:
        result["error"] = str(exc)
        return result
    result.update(ticker=alert.ticker, price=float(alert.price), alert_id=alert.id, status="executed")
    return result


def _change_watchlist(item: dict, *, user_id: str) -> dict:
    result = {"ticker": item["ticker"], "action": item["action"], "status": "rejected", "error": item.get("problem")}
    if result["error"]:
        return result
    try:
        if item["action"] == "add":
            entry = market_services.add_ticker(user_id=user_id, ticker=item["ticker"])
            result["ticker"] = entry.ticker
        else:
            result["ticker"] = market_services.remove_ticker(user_id=user_id, ticker=item["ticker"])
    except MarketError as exc:
        result["error"] = str(exc)
        return result
    result["status"] = "executed"
    return result


def _act_and_store(*, user_id: str, asked_id: str, parsed: ParsedReply) -> Turn:
    """Run each action once, in order (watchlist first, so 'add X' precedes a trade in X), then store the reply.

    All in ONE transaction: the reply is the history's record of what the actions did, so both are kept or
    neither is. A turn whose reply could not be stored has executed nothing, and the history's rule holds (a
    request left without an answer executed nothing): a retry may ask the model again without a fill it never
    heard of. Each action keeps its own savepoint (the engine's and the watchlist's atomic blocks), so a refused
    one rolls back alone.
    """
    reply_id = new_id()
    with transaction.atomic():
        # The profile row first, as a trade and a reset take it (portfolio.services): a watchlist change ahead of
        # the trades would otherwise hold a watchlist row while waiting for the profile a reset holds, and the
        # reset waits for that row (a deadlock, on PostgreSQL).
        portfolio_services.lock_book(user_id=user_id)
        changes = [_change_watchlist(item, user_id=user_id) for item in parsed.watchlist_changes]
        # Cancels before new orders: what a canceled order held back is free for the orders that follow it.
        cancels = [_cancel_order(item, user_id=user_id) for item in parsed.cancels]
        alerts = [_set_alert(item, user_id=user_id) for item in parsed.alerts]
        trades = [_execute_trade(asked_id, i, item, user_id=user_id) for i, item in enumerate(parsed.trades)]
        acted = trades or changes or cancels or alerts
        actions = {"trades": trades, "watchlist_changes": changes} if acted else None
        if cancels:
            actions["cancels"] = cancels
        if alerts:
            actions["alerts"] = alerts
        reply = {"id": reply_id, "user_id": user_id, "role": ChatMessage.Role.ASSISTANT, "actions": actions,
                 "in_reply_to": asked_id}
        try:
            with transaction.atomic():  # a savepoint: a refused text leaves the transaction usable for the next try
                stored = ChatMessage.objects.create(content=parsed.message, **reply)
        except DatabaseError:
            # The text alone was refused: the actions are kept, with a reply that lists what they did.
            logger.exception("assistant reply %s could not be stored as written", reply_id)
            stored = ChatMessage.objects.create(
                content="(The reply's text could not be stored; what was done is listed below.)", **reply
            )
    return Turn(id=stored.id, message=stored.content, trades=trades, watchlist_changes=changes, cancels=cancels,
                alerts=alerts, created_at=stored.created_at)


NOT_STORED = ("The answer could not be saved, so nothing it asked for was done (no trade, no watchlist change): "
              "try again.")


def _store_failure(*, user_id: str, asked_id: str, error: str) -> Turn:
    stored = ChatMessage.objects.create(
        user_id=user_id, role=ChatMessage.Role.ASSISTANT, content=error, error=error, in_reply_to=asked_id
    )
    # Nothing was executed: a retry of the same message may be answered at once.
    ChatMessage.objects.filter(pk=asked_id).update(answering_since=None)
    return Turn(id=stored.id, message=error, error=error, created_at=stored.created_at)


async def chat(*, user_id: str, message: object, client_message_id: object = None) -> Turn:
    text = clean_message(message)
    client_message_id = clean_client_message_id(client_message_id)
    if not is_available():
        return Turn(id=None, message=NOT_CONFIGURED, error=NOT_CONFIGURED, created_at=timezone.now())
    begun = await write(_begin, user_id=user_id, text=text, client_message_id=client_message_id)
    if isinstance(begun, Turn):
        return begun  # a retry of a message answered before
    asked_id = begun.asked.id
    try:
        if settings.LLM_MOCK:
            raw = mock.reply(text, begun.context)
        else:
            messages = _model_messages(text, begun.history, begun.context)
            raw = (await llm.complete(messages, schema=AssistantReply)).text
        parsed = parse_reply(raw)
    except llm.LLMError as exc:
        return await write(_store_failure, user_id=user_id, asked_id=asked_id, error=f"{exc} Nothing was executed.")
    except ReplyError as exc:
        error = f"The assistant's answer could not be read ({exc}) Nothing was executed: try again."
        return await write(_store_failure, user_id=user_id, asked_id=asked_id, error=error)
    try:
        return await write(_act_and_store, user_id=user_id, asked_id=asked_id, parsed=parsed)
    except DatabaseError:
        # Rolled back whole: nothing was executed. Say so and let go of the message, so that a retry is answered
        # at once; if even that cannot be written, the database is down (a 503), and the message is let go by age.
        logger.exception("assistant turn for %s could not be stored; its actions were rolled back", asked_id)
        return await write(_store_failure, user_id=user_id, asked_id=asked_id, error=NOT_STORED)


def clear_chat_on_reset(sender, *, user_id: str, **kwargs) -> None:
    """A portfolio reset starts the conversation over too."""
    ChatMessage.objects.filter(user_id=user_id).delete()
