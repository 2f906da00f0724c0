"""LLM_MOCK=true: deterministic replies with no network, for demos and tests (README "Assistant").

The reply is JSON text like a model's and goes through the same reading and the same engine, so its
trades are real fills. What it understands, in any order, separated by "and", "," or ";":
  buy 10 AAPL / sell 2.5 tsla        -> a market order (the quantity a plain decimal, as in the trade bar)
  buy 10 AAPL @ 180 [gtc]            -> a limit order; "stop 240" a stop; both a stop-limit
  cancel 3f9a2b1c / cancel all       -> cancel an open order (the id the page shows) or all of them
  add PYPL / watch PYPL              -> add to the watchlist
  remove NFLX / rm NFLX / drop NFLX  -> remove from the watchlist
  alert AAPL > 200 / alert tsla below 150 -> set a price alert (above: >, >=; below: <, <=)
Anything else gets a short summary of the portfolio and no action.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from assistant.selectors import Context
from core.formatting import money
from core.formatting import quantity as quantity_text
from portfolio.services import plain_decimal

# The quantity is anything a number might be typed as; _number reads it by the trade bar's rule.
TRADE = re.compile(
    r"\b(buy|sell)\s+([+\-]?[0-9.][0-9.eE+\-_]*)\s+(?:shares?\s+of\s+)?([A-Za-z0-9.\-/]+)", re.IGNORECASE
)
# Where a trade's own words end: the next "and", "," or ";" (its limit, stop and time in force come before it).
SEPARATOR = re.compile(r",|;|\band\b", re.IGNORECASE)
LIMIT = re.compile(r"(?:@\s*|limit\s+)([0-9.]+)", re.IGNORECASE)
STOP = re.compile(r"stop\s+([0-9.]+)", re.IGNORECASE)
CANCEL = re.compile(r"\bcancel\s+([0-9a-f-]+|all)\b", re.IGNORECASE)
ADD = re.compile(r"\b(?:add|watch)\s+([A-Za-z0-9.\-/]+)", re.IGNORECASE)
ALERT = re.compile(r"\balert\s+([A-Za-z0-9.\-/]+)\s*(>=|<=|>|<|above|below)\s*\$?([0-9.]+)", re.IGNORECASE)
ALERT_CONDITIONS = {">": "above", ">=": "above", "above": "above", "<": "below", "<=": "below", "below": "below"}
REMOVE = re.compile(r"\b(?:remove|rm|drop|unwatch)\s+([A-Za-z0-9.\-/]+)", re.IGNORECASE)


def _symbol(text: str) -> str:
    """A ticker as the model would write it. Non-ASCII text is passed on as typed: the engine refuses it, where
    upper-casing would make a different, real symbol of it (IGNORECASE lets [A-Za-z] match "ı", and "ıbm" -> IBM)."""
    return text.upper() if text.isascii() else text


def _number(text: str):
    """A number as a model would send it, when typed as the trade bar takes it (a plain decimal) and a float holds
    it exactly; else the text as typed, which the engine reads by the same rule and refuses with its reason (float()
    would read 1e3 as a thousand shares, and 999999999.99999999 as a fillable 1,000,000,000)."""
    value = plain_decimal(text)
    if value is None or Decimal(repr(float(value))) != value:
        return text
    return float(value)


def _shown(quantity) -> str:
    return quantity_text(quantity) if isinstance(quantity, float) else quantity


def _terms(terms: str) -> dict:
    order = {}
    limit, stop = LIMIT.search(terms), STOP.search(terms)
    if limit:
        order["limit_price"] = _number(limit.group(1))
    if stop:
        order["stop_price"] = _number(stop.group(1))
    if order:
        order["type"] = {(True, False): "limit", (False, True): "stop", (True, True): "stop_limit"}[
            (limit is not None, stop is not None)]
        if "gtc" in terms.lower():
            order["time_in_force"] = "gtc"
    return order


def reply(message: str, context: Context) -> str:
    trades = []
    for match in TRADE.finditer(message):
        side, quantity, ticker = match.groups()
        rest = message[match.end():]
        end = SEPARATOR.search(rest)
        # Each trade's terms from its own words: a limit is never given to the wrong trade, nor dropped.
        terms = _terms(rest[: end.start()] if end else rest)
        trades.append({"ticker": _symbol(ticker), "side": side.lower(), "quantity": _number(quantity), **terms})
    cancels = [target.lower() for target in CANCEL.findall(message)]
    changes = [{"ticker": _symbol(t), "action": "add"} for t in ADD.findall(message)]
    changes += [{"ticker": _symbol(t), "action": "remove"} for t in REMOVE.findall(message)]
    alerts = [{"ticker": _symbol(t), "condition": ALERT_CONDITIONS[c.lower()], "price": _number(p)}
              for t, c, p in ALERT.findall(message)]
    if trades or changes or cancels or alerts:
        parts = [f"{t.get('type', '')} {t['side']} {_shown(t['quantity'])} {t['ticker']}".strip() for t in trades]
        parts += [f"{c['action']} {c['ticker']}" for c in changes]
        parts += [f"cancel {target}" for target in cancels]
        parts += [f"alert {a['ticker']} {a['condition']} {a['price']}" for a in alerts]
        text = "Mock assistant: " + "; ".join(parts) + "."
    else:
        text = f"Mock assistant: cash {money(context.cash)}, total value {money(context.total_value)}"
        if context.positions:
            top = max(context.positions, key=lambda p: p["weight"])
            text += (
                f"; {len(context.positions)} position(s), the largest {top['ticker']} at {top['weight']:.0%} of "
                f"what is invested, unrealized P&L {money(context.unrealized_pnl)}."
            )
        else:
            text += "; no positions yet."
        text += " Try 'buy 10 AAPL', 'sell 5 AAPL', 'add PYPL' or 'remove NFLX'."
    return json.dumps({"message": text, "trades": trades, "watchlist_changes": changes, "cancel_orders": cancels,
                       "alerts": alerts})
