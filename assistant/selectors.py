"""Reads of the assistant: what the model is told about the portfolio, and the conversation so far."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings

from alerts import selectors as alert_selectors
from assistant.models import ChatMessage
from market import selectors as market_selectors
from portfolio import selectors as portfolio_selectors

HISTORY_MESSAGES = 20
# Resting orders the model is told about in a turn (newest first): bounded as the watchlist is.
CONTEXT_ORDERS = 30


@dataclass(frozen=True)
class Context:
    """The portfolio and watchlist as of one read, in plain values (SPEC §7 step 1)."""

    cash: float
    total_value: float
    unrealized_pnl: float
    positions: list[dict]
    watchlist: list[dict]
    # Watchlist tickers left out of `watchlist` (past ASSISTANT_CONTEXT_WATCHLIST): the model is told how many.
    watchlist_omitted: int = 0
    # Cash less what resting buys hold back, and the resting orders (at most ASSISTANT_CONTEXT_ORDERS, newest first).
    buying_power: float | None = None
    open_orders: list[dict] | None = None
    # The active price alerts (at most ALERTS_MAX_ACTIVE), by the short id the page shows.
    alerts: list[dict] | None = None

    def as_json(self) -> str:
        body = {
            "cash": self.cash,
            "total_value": self.total_value,
            "unrealized_pnl": self.unrealized_pnl,
            "positions": self.positions,
            "watchlist": self.watchlist,
        }
        if self.watchlist_omitted:
            body["watchlist_not_shown"] = self.watchlist_omitted
        if self.open_orders:
            body["buying_power"] = self.buying_power
            body["open_orders"] = self.open_orders
        if self.alerts:
            body["alerts"] = self.alerts
        return json.dumps(body, separators=(",", ":"))


def context(*, user_id: str) -> Context:
    """Every held position, and the watchlist's first ASSISTANT_CONTEXT_WATCHLIST tickers: what each turn sends
    the model stays bounded however long the watchlist grows (issue 19). The positions are bounded too: held
    tickers count towards WATCHLIST_MAX_TICKERS (market.services.add_ticker), so there are at most that many."""
    book = portfolio_selectors.portfolio(user_id=user_id)
    limit = settings.ASSISTANT_CONTEXT_WATCHLIST
    positions = [
        {
            "ticker": p.ticker,
            "quantity": float(p.quantity),
            "avg_cost": float(p.avg_cost),
            "price": float(p.current_price) if p.current_price is not None else None,
            "market_value": float(p.market_value),
            "unrealized_pnl": float(p.unrealized_pnl),
            "unrealized_pnl_percent": float(p.unrealized_pnl_percent),
            "weight": round(p.weight, 4),
        }
        for p in book.positions
    ]
    watchlist = [
        {
            "ticker": w.ticker,
            "price": w.quote.price if w.quote else None,
            "change_percent": round(w.quote.change_percent, 2) if w.quote else None,
            "status": w.status,
        }
        for w in market_selectors.watchlist_quotes(user_id=user_id, limit=limit)
    ]
    omitted = market_selectors.watch_count(user_id=user_id) - len(watchlist) if len(watchlist) >= limit else 0
    # The same short id the page and the command line show, so "cancel 3f9a2b1c" means one thing everywhere.
    open_orders = [
        {
            "id": portfolio_selectors.short_order_id(o.id),
            "type": o.type,
            "side": o.side,
            "ticker": o.ticker,
            "qty": float(o.qty),
            "limit_price": float(o.limit_price) if o.limit_price is not None else None,
            "stop_price": float(o.stop_price) if o.stop_price is not None else None,
            "time_in_force": o.time_in_force,
        }
        for o in portfolio_selectors.orders(user_id=user_id, status="open", limit=CONTEXT_ORDERS)
    ]
    return Context(
        cash=float(book.cash_balance),
        total_value=float(book.total_value),
        unrealized_pnl=float(book.unrealized_pnl),
        positions=positions,
        watchlist=watchlist,
        watchlist_omitted=max(omitted, 0),
        buying_power=float(book.buying_power),
        open_orders=open_orders,
        alerts=[
            {"id": portfolio_selectors.short_order_id(a.id), "ticker": a.ticker, "condition": a.condition,
             "price": float(a.price)}
            for a in alert_selectors.alerts(user_id=user_id, status="active", limit=settings.ALERTS_MAX_ACTIVE)
        ],
    )


def recent_messages(*, user_id: str, limit: int = HISTORY_MESSAGES) -> list[ChatMessage]:
    """The last `limit` messages, oldest first."""
    newest = ChatMessage.objects.filter(user_id=user_id).order_by("-created_at")[:limit]
    return list(reversed(newest))
