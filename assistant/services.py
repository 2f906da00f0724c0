"""One chat turn (SPEC §7): context -> model -> execute the actions it asked for -> store both messages.

The model call holds no database transaction or lock, and runs on the event loop (LiteLLM is async). Trades
and watchlist changes go through the same services as the trade bar and the command line; the assistant
checks nothing of its own. Each trade carries a client_order_id made from the reply's id, so no trade of a
reply can ever be filled twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from assistant import llm, mock, selectors
from assistant.models import ChatMessage
from assistant.schema import MAX_MESSAGE_CHARS, AssistantReply, ParsedReply, ReplyError, parse_reply, storable
from core.db import DEFAULT_USER, new_id, write
from market import services as market_services
from market.exceptions import MarketError
from portfolio import services as portfolio_services
from portfolio.exceptions import TradeRejected

logger = logging.getLogger(__name__)

SYSTEM_PROMPT = """You are FinAlly, an AI trading assistant inside a trading workstation with a simulated portfolio.
- Analyze the portfolio's composition, concentration and profit and loss from the context you are given.
- Suggest trades with brief reasons. Execute trades only when the user asks for them or agrees to a suggestion.
- Manage the watchlist when asked (add or remove tickers).
- Orders are market orders, filled at once at the current price; there are no fees. Fake money, real discipline.
- Be concise and data-driven: numbers over adjectives.
- Always answer with valid JSON matching the schema: a `message`, and `trades` and `watchlist_changes` (empty
  lists when there is nothing to do)."""

NOT_CONFIGURED = (
    "The assistant is not configured: set OPENROUTER_API_KEY in .env (or LLM_API_BASE for a local "
    "OpenAI-compatible server, or LLM_MOCK=true for a demo without a model) and restart."
)


class InvalidMessage(ValueError):
    """The user's message cannot be sent (empty, too long)."""


@dataclass
class Turn:
    """The assistant's side of one turn, as stored and as the API returns it."""

    id: str | None
    message: str
    trades: list[dict] = field(default_factory=list)
    watchlist_changes: list[dict] = field(default_factory=list)
    error: str | None = None
    created_at: datetime | None = None


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


def _model_messages(text: str, history: list[ChatMessage], context: selectors.Context) -> list[dict]:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "system", "content": "Portfolio and watchlist now (JSON): " + context.as_json()},
    ]
    for past, following in zip(history, [*history[1:], None]):
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
        outcome = f"at {t['price']}" if t["status"] == "executed" else f"rejected: {t['error']}"
        quantity = f"{t['quantity']:g}" if isinstance(t["quantity"], (int, float)) else t["quantity"]
        parts.append(f"{t['side']} {quantity} {t['ticker']} {outcome}")
    for c in actions.get("watchlist_changes", []):
        outcome = "done" if c["status"] == "executed" else f"rejected: {c['error']}"
        parts.append(f"{c['action']} {c['ticker']} {outcome}")
    return "; ".join(parts) or "nothing"


def _begin(*, user_id: str, text: str) -> tuple[list[ChatMessage], selectors.Context]:
    """Read the history and the context, then keep the user's message (it is kept whatever happens next)."""
    history = selectors.recent_messages(user_id=user_id)
    context = selectors.context(user_id=user_id)
    ChatMessage.objects.create(user_id=user_id, role=ChatMessage.Role.USER, content=text)
    return history, context


def _execute_trade(reply_id: str, index: int, item: dict, *, user_id: str) -> dict:
    result = {"ticker": item["ticker"], "side": item["side"], "quantity": item["quantity"], "status": "rejected",
              "price": None, "notional": None, "executed_at": None, "error": item.get("problem")}
    if result["error"]:
        return result
    try:
        fill = portfolio_services.execute_trade(
            user_id=user_id, ticker=item["ticker"], side=item["side"], quantity=item["quantity"],
            client_order_id=f"chat-{reply_id}-{index}",
        )
    except TradeRejected as exc:
        result["error"] = str(exc)
        return result
    except DatabaseError:
        logger.exception("assistant trade %s could not be written", item)
        result["error"] = "The trade could not be written to the database."
        return result
    result.update(
        ticker=fill.ticker, quantity=float(fill.quantity), status="executed", price=float(fill.price),
        notional=float(fill.notional), executed_at=fill.executed_at.isoformat().replace("+00:00", "Z"), error=None,
    )
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


def _act_and_store(*, user_id: str, parsed: ParsedReply) -> Turn:
    """Run each action once, in order (watchlist first, so 'add X' precedes a trade in X), then store the reply."""
    reply_id = new_id()
    changes = [_change_watchlist(item, user_id=user_id) for item in parsed.watchlist_changes]
    trades = [_execute_trade(reply_id, i, item, user_id=user_id) for i, item in enumerate(parsed.trades)]
    actions = {"trades": trades, "watchlist_changes": changes} if trades or changes else None
    try:
        stored = ChatMessage.objects.create(
            id=reply_id, user_id=user_id, role=ChatMessage.Role.ASSISTANT, content=parsed.message, actions=actions
        )
    except DatabaseError:
        # The actions have run: whatever happens to the text, the user and the history must learn what they did.
        logger.exception("assistant reply %s could not be stored as written", reply_id)
        stored = ChatMessage.objects.create(
            id=reply_id, user_id=user_id, role=ChatMessage.Role.ASSISTANT, actions=actions,
            content="(The reply's text could not be stored; what was done is listed below.)",
        )
    return Turn(id=stored.id, message=stored.content, trades=trades, watchlist_changes=changes,
                created_at=stored.created_at)


def _store_failure(*, user_id: str, error: str) -> Turn:
    stored = ChatMessage.objects.create(
        user_id=user_id, role=ChatMessage.Role.ASSISTANT, content=error, error=error
    )
    return Turn(id=stored.id, message=error, error=error, created_at=stored.created_at)


async def chat(*, user_id: str = DEFAULT_USER, message: object) -> Turn:
    text = clean_message(message)
    if not is_available():
        return Turn(id=None, message=NOT_CONFIGURED, error=NOT_CONFIGURED, created_at=timezone.now())
    history, context = await write(_begin, user_id=user_id, text=text)
    try:
        if settings.LLM_MOCK:
            raw = mock.reply(text, context)
        else:
            completion = await llm.complete(_model_messages(text, history, context), schema=AssistantReply)
            raw = completion.text
        parsed = parse_reply(raw)
    except llm.LLMError as exc:
        return await write(_store_failure, user_id=user_id, error=f"{exc} Nothing was executed.")
    except ReplyError as exc:
        error = f"The assistant's answer could not be read ({exc}) Nothing was executed: try again."
        return await write(_store_failure, user_id=user_id, error=error)
    return await write(_act_and_store, user_id=user_id, parsed=parsed)


def clear_chat_on_reset(sender, *, user_id: str, **kwargs) -> None:
    """A portfolio reset starts the conversation over too."""
    ChatMessage.objects.filter(user_id=user_id).delete()
