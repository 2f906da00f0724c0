"""What each panel of the workstation shows, as plain template context.

Shared by the full page and the panels' own htmx requests, so a panel renders the same either way; the
page is the union of its panels.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts import selectors as alert_selectors
from assistant import selectors as assistant_selectors
from assistant import services as assistant_services
from core.db import new_id
from core.formatting import money, signed_money
from core.formatting import price as price_text
from core.formatting import quantity as quantity_text
from market import bars as bar_rules
from market import selectors
from market.exceptions import InvalidTicker
from market.quotes import stale_after
from market.store import get_store
from market.tickers import MAX_TICKER_LENGTH, normalize_ticker
from portfolio import selectors as portfolio_selectors
from portfolio.orders import STOP_MARGIN
from portfolio.selectors import PortfolioView
from workstation import charts

# A watchlist row whose price its source stopped sending; workstation.js says the same when a tick marks it.
STALE_TITLE = "Stale: the price source has stopped sending this price. Not tradable until it is priced again."
SPARK_POINTS = 80
# The main chart's bars on first paint: a day of minute bars (fewer of a longer timeframe's, as far as they go).
CHART_BARS = 1440
CHART_TIMEFRAMES = tuple(bar_rules.TIMEFRAMES)
DEFAULT_TIMEFRAME = "1m"


def watchlist_panel(
    *, user_id: str, selected: str | None = None, error: str = "", value: str = ""
) -> dict:
    store = get_store()
    rows = [
        {
            "ticker": w.ticker,
            "quote": w.quote,
            "status": w.status,
            "spark": charts.line(store.history(w.ticker), SPARK_POINTS),
            "invented": selectors.invented_by_simulator(w.ticker),
        }
        for w in selectors.watchlist_quotes(user_id=user_id)
    ]
    return {
        "watchlist": rows,
        "stale_title": STALE_TITLE,
        "selected": selected,
        "wl_error": error,
        "wl_value": value,
        "history_seconds": int(settings.PRICE_HISTORY_SECONDS),
        "max_ticker_length": MAX_TICKER_LENGTH,  # the box takes no more than the check allows
    }


def _number(value: float) -> str:
    """A number as short as it reads exactly: 190 for 190.0, 189.91 as itself."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def chart_timeframe(value: str | None) -> str:
    """A timeframe the chart draws: the one asked for if it is one, else the default."""
    return value if value in bar_rules.TIMEFRAMES else DEFAULT_TIMEFRAME


def chart_panel(ticker: str | None, timeframe: str = DEFAULT_TIMEFRAME) -> dict:
    """The main chart: its bars ride in the page as JSON (static/js/chart.js draws them), so it is full at once."""
    quote = get_store().latest(ticker) if ticker else None
    found = selectors.bars(ticker, timeframe, CHART_BARS) if ticker else []
    # All the chart takes, or all that is kept (PRICE_BARS_DAYS, a day's grace): else the history begins later than
    # the chart reaches (when the ticker was first priced here), and the chart says so rather than draw a past.
    first = (selectors.first_minute(ticker) or found[0].t) if found and len(found) < CHART_BARS else None
    complete = bool(found) and (first is None or first <= time.time() - (settings.PRICE_BARS_DAYS - 1) * 86400)
    return {
        "chart": {
            "ticker": ticker,
            "quote": quote,
            "timeframe": timeframe,
            "timeframes": CHART_TIMEFRAMES,
            "invented": bool(ticker) and selectors.invented_by_simulator(ticker),
            "timeframe_seconds": bar_rules.TIMEFRAMES[timeframe],
            # "t,o,h,l,c" per bar, oldest first, in an attribute: htmx drops every <script> it swaps in (the CSP
            # build's allowScriptTags is off), a JSON data block included, and bare numbers need no escaping.
            "bars": " ".join(",".join(_number(v) for v in (b.t, b.o, b.h, b.l, b.c)) for b in found),
            # A first bar later than the chart reaches back, and later than what is kept: the history begins there
            # (when the ticker was first priced here), and the chart says so rather than drawing a past it lacks.
            "complete": complete,
            # Where a short history begins, to the minute (the first bar of 1h or 1d starts before it), and whose.
            "since": None if complete else first,
            "simulated": selectors.simulated_prices(),
        },
    }


def feed_panel() -> dict:
    """The connection dot as the server sees the feed now; the page's script keeps it current from then on."""
    status = get_store().status()
    age = status.age()
    # No tick for longer than a price stays live (the engine's rule) reads as delayed.
    delayed_after = stale_after(status.interval)
    # A source's standing remark (a Massive plan with end-of-day closes only) is said instead of "live":
    # its prices are current for the source, not live quotes.
    notice = (status.notice or "").strip()
    notice = notice[:1].upper() + notice[1:]
    if age is None:
        state, text = "stale", "waiting for prices"
    elif age > delayed_after:
        state, text = "stale", f"prices delayed {math.floor(age + 0.5)} s"  # rounded as workstation.js does
    elif notice:
        state, text = "notice", notice
    else:
        state, text = "live", "live"
    return {
        "feed": {
            "state": state,
            "text": text,
            "notice": notice,
            "stale_after": delayed_after,
            "last_tick_at": repr(float(status.last_tick_at or 0)),
            "now": repr(time.time()),
            "source": status.source or "",
        }
    }


def default_ticker(rows: list[dict], requested: str | None) -> str | None:
    """The ticker the main chart shows: the one asked for if it is on the watchlist, else the first."""
    tickers = [row["ticker"] for row in rows]
    if requested:
        try:
            requested = normalize_ticker(requested)  # never "ıbm" -> IBM: a look-alike selects nothing
        except InvalidTicker:
            requested = None
        if requested in tickers:
            return requested
    return tickers[0] if tickers else None


# --- portfolio panels ------------------------------------------------------------------------------

# Close to its size on screen, so the labels read at their nominal size.
HEATMAP_WIDTH = 340
HEATMAP_HEIGHT = 180
PNL_POINTS = 300
PNL_MIN_SPAN = 20.0  # dollars: the P&L axis spans at least this, so a $1 move does not fill the chart (issue 23)
HEAT_STEPS = (0.005, 0.25, 1.0, 3.0)  # |P&L %| below the first is flat; then four intensities


def heat_class(percent) -> str:
    """Green for profit, red for loss, four intensities by P&L %; the same steps as workstation.js."""
    p = float(percent)
    step = next((i for i, bound in enumerate(HEAT_STEPS) if abs(p) < bound), len(HEAT_STEPS))
    if step == 0:
        return "hm-0"
    return f"hm-{'p' if p > 0 else 'n'}{step}"


def summary_panel(view: PortfolioView, *, user_id: str) -> dict:
    """The header's figures; the day's P&L is the total value's change since the day began (workstation.js keeps
    it live from data-day-start)."""
    start = portfolio_selectors.day_start_value(user_id=user_id, now=timezone.now())
    return {"pv": view, "day": {"start": start, "pnl": None if start is None else view.total_value - start}}


def positions_panel(view: PortfolioView) -> dict:
    # A held ticker whose price the simulator invents is marked here as on the watchlist (a position outlives
    # its watchlist row).
    cost = view.cost_basis
    return {
        "pv": view,
        "invented_held": {p.ticker for p in view.positions if selectors.invented_by_simulator(p.ticker)},
        "unrealized_percent": view.unrealized_pnl / cost * 100 if cost else 0,  # of the whole book's cost
    }


def heatmap_panel(view: PortfolioView) -> dict:
    by_ticker = {p.ticker: p for p in view.positions}
    tiles = []
    weights = [(p.ticker, float(p.market_value)) for p in view.positions]
    for tile in charts.treemap(weights, HEATMAP_WIDTH, HEATMAP_HEIGHT):
        position = by_ticker[tile.key]
        tiles.append(
            {
                "tile": tile,
                "position": position,
                "heat": heat_class(position.unrealized_pnl_percent),
                # Labels only where they fit (in viewBox units: the ticker at 13 px bold monospace is about 7.8 a
                # character, the percentage about 46); the tile's <title> names it everywhere.
                "label": tile.w >= max(7.8 * len(position.ticker), 46) + 4 and tile.h >= 28,
                "cx": tile.x + tile.w / 2,
                "ty": tile.y + tile.h / 2 - 1,
                "py": tile.y + tile.h / 2 + 12,
            }
        )
    return {"heatmap": {"tiles": tiles, "width": HEATMAP_WIDTH, "height": HEATMAP_HEIGHT}}


# The P&L chart's spans: since the US Eastern day began, the last seven days, everything.
PNL_SPANS = {"session": "Session", "week": "Week", "all": "All"}


def pnl_span(value: str | None) -> str:
    return value if value in PNL_SPANS else "all"


def _span_start(span: str, now: datetime) -> datetime | None:
    if span == "session":
        return portfolio_selectors.day_start(now)
    if span == "week":
        return now - timedelta(days=7)
    return None


def pnl_panel(view: PortfolioView, *, user_id: str, span: str = "all") -> dict:
    """Total value over a span of time, ending at the value now: the figure and the line's last point are the
    header's live total (the latest snapshot is up to a snapshot interval old), and workstation.js keeps them so
    with each tick. The span's first value is marked on the chart, and the change is counted from it."""
    now = timezone.now()
    since = _span_start(span, now)
    snapshots = portfolio_selectors.snapshot_series(user_id=user_id, since=since)
    if span == "session":
        # From the value the day began with, as the header's day P&L counts: the last snapshot before the day,
        # drawn at the day's start (the day's own first snapshot is already hours of the day's P&L in).
        began = portfolio_selectors.day_start_snapshot(user_id=user_id, now=now)
        if began is not None and began[1] < since:
            snapshots = [(began[0], since), *snapshots]
    series = [(at.timestamp(), float(value)) for value, at in snapshots]
    end = max(now.timestamp(), series[-1][0]) if series else now.timestamp()
    series.append((end, float(view.total_value)))
    first = snapshots[0][0] if snapshots else view.total_value
    line = charts.line(series, PNL_POINTS, min_span=PNL_MIN_SPAN)
    return {
        "pnl": {
            "line": line,
            "first": first,
            "first_y": (line.hi - float(first)) / (line.hi - line.lo) * charts.LINE_HEIGHT if line.hi > line.lo else 50,
            "last": view.total_value,
            "change": view.total_value - first,
            "count": len(snapshots),
            "min_span": PNL_MIN_SPAN,
            "span": span,
            "spans": PNL_SPANS,
            "since": datetime.fromtimestamp(series[0][0], UTC),
        }
    }


FILL_NOTICE_SECONDS = 300


def orders_panel(*, user_id: str, error: str = "", message: str = "") -> dict:
    """The book's resting orders, newest first, each with what it waits for and what it holds back."""
    resting = portfolio_selectors.orders(user_id=user_id, status="open", limit=settings.ORDERS_OPEN_MAX)
    rows = [{"order": o, "short_id": short_id(o.id), "label": order_label(o), "text": order_text(o)} for o in resting]
    # The fills of the last minutes: workstation.js tells of each once, as it first sees it after the page loaded.
    since = timezone.now() - timedelta(seconds=FILL_NOTICE_SECONDS)
    fills = [{"id": o.id, "text": order_text(o)}
             for o in portfolio_selectors.resting_fills(user_id=user_id, since=since)]
    return {"open_orders": rows, "orders_error": error, "orders_message": message, "recent_fills": fills}


ALERTS_HISTORY_SHOWN = 5


def alert_text(alert) -> str:
    """One alert in words, the same for the command line, the alerts panel and the toast."""
    head = f"{alert.ticker} {alert.condition} ${price_text(alert.price)}"
    if alert.status == "fired":
        return f"Alert {head} fired at ${price_text(alert.fired_price)}."
    if alert.status == "canceled":
        return f"Alert {head} canceled."
    return f"Alert {head} is active, id {short_id(alert.id)}."


def alerts_panel(
    *, user_id: str, error: str = "", message: str = "", ticker: str = "", condition: str = "above", price: str = ""
) -> dict:
    """The book's active alerts, the last few that fired or were canceled, and the ones that fired in the last
    minutes (workstation.js tells of each once, with a toast, as it does of fills)."""
    active = alert_selectors.alerts(user_id=user_id, status="active", limit=settings.ALERTS_MAX_ACTIVE)
    history = alert_selectors.alerts(user_id=user_id, status="history", limit=ALERTS_HISTORY_SHOWN)
    fired = alert_selectors.recently_fired(user_id=user_id, seconds=FILL_NOTICE_SECONDS)
    return {
        "alerts": [{"alert": a, "short_id": short_id(a.id), "text": alert_text(a)} for a in active],
        "alerts_history": [{"alert": a, "text": alert_text(a)} for a in history],
        "recent_alerts": [{"id": a.id, "text": alert_text(a)} for a in fired],
        "alerts_error": error, "alerts_message": message, "alert_ticker": ticker,
        # What a refused form said comes back as typed, so the user corrects it instead of typing it again.
        "alert_condition": condition if condition in ("above", "below") else "above", "alert_price": price,
    }


BLOTTER_SIDES = {"buy": "Buys", "sell": "Sells"}


def blotter_filters(query) -> dict:
    """The blotter's filters from a query string: a ticker's first letters (as a ticker is written, no longer
    than one) and a side; anything else is no filter."""
    ticker = "".join(ch for ch in str(query.get("ticker", "")).upper() if ch.isascii() and (ch.isalnum() or ch in ".-"))
    side = query.get("side", "")
    return {"ticker": ticker[:MAX_TICKER_LENGTH], "side": side if side in BLOTTER_SIDES else ""}


def blotter_panel(*, user_id: str, ticker: str = "", side: str = "") -> dict:
    trades = portfolio_selectors.recent_trades(user_id=user_id, ticker=ticker, side=side)
    return {"trades": trades, "blotter": {"ticker": ticker, "side": side, "sides": BLOTTER_SIDES,
                                          "filtered": bool(ticker or side)}}


TIMES_IN_FORCE = {"day": "Day", "gtc": "GTC"}


def trade_panel(
    *, ticker: str | None = "", quantity: str = "", message: str = "", error: str = "", type: str = "market",
    time_in_force: str = "day", limit_price: str = "", stop_price: str = "",
) -> dict:
    """The trade ticket. What it shows before the click (cost or proceeds at the live price, buying power left) is
    worked out in the browser by static/js/ticket.js, the mirror of portfolio.money and portfolio.orders.reservation;
    the margin a buy stop holds is rendered from the one constant."""
    # A new order id with each form: a resubmit after a lost answer is the same order, not a second one.
    # As typed ("tsla") the ticker is still TSLA: the mark reads it as the order would.
    invented = bool(ticker and ticker.strip()) and selectors.invented_by_simulator(ticker.strip().upper())
    return {"trade": {"ticker": ticker or "", "quantity": quantity, "message": message, "error": error,
                      "order_id": new_id(), "invented": invented, "simulated": selectors.simulated_prices(),
                      "type": type if type in TYPE_NAMES else "market",
                      "time_in_force": time_in_force if time_in_force in TIMES_IN_FORCE else "day",
                      "limit_price": limit_price, "stop_price": stop_price,
                      "types": TYPE_NAMES.items(), "times_in_force": TIMES_IN_FORCE.items(),
                      "stop_margin": STOP_MARGIN},
            "max_ticker_length": MAX_TICKER_LENGTH}


def command_panel(*, value: str = "", message: str = "", error: str = "") -> dict:
    return {"cmd": {"value": value, "message": message, "error": error}}


def fill_text(*, side: str, quantity, ticker: str, price, notional, realized_pnl=None) -> str:
    """One fill in words, the same for the trade bar, the command line and the assistant's confirmations."""
    verb = "Bought" if side == "buy" else "Sold"
    text = f"{verb} {quantity_text(quantity)} {ticker} at ${price_text(price)} ({money(notional)})"
    if realized_pnl is not None:
        text += f", realized {signed_money(realized_pnl)}"
    return text + "."


TYPE_NAMES = {"market": "Market", "limit": "Limit", "stop": "Stop", "stop_limit": "Stop-limit"}


short_id = portfolio_selectors.short_order_id


def order_terms(order) -> str:
    """What an order waits for: "@ $180.00", "stop $240.00", "stop $130.00 @ $131.00"."""
    parts = []
    if order.stop_price is not None:
        parts.append(f"stop ${price_text(order.stop_price)}")
    if order.limit_price is not None:
        parts.append(f"@ ${price_text(order.limit_price)}")
    return " ".join(parts)


def order_label(order) -> str:
    """The open-orders panel's short form: "Limit @ $180.00", "Stop $240.00", "Stop-limit $130.00 @ $131.00"."""
    label = TYPE_NAMES[order.type]
    if order.stop_price is not None:
        label += f" ${price_text(order.stop_price)}"
    if order.limit_price is not None:
        label += f" @ ${price_text(order.limit_price)}"
    return label


def order_text(order) -> str:
    """One order in words, the same for the command line, the open-orders panel's titles and the assistant."""
    head = (f"{TYPE_NAMES[order.type]} {order.side} {quantity_text(order.qty)} {order.ticker} {order_terms(order)}"
            .strip())
    if order.status == "new":
        return f"{head} ({order.time_in_force}) is open, id {short_id(order.id)}."
    if order.status == "filled":
        return f"{head}: filled at ${price_text(order.filled_avg_price)}."
    if order.status == "rejected":
        return f"{head}: rejected ({order.reason})."
    return f"{head}: {order.status}."


def canceled_text(order) -> str:
    return f"Canceled: {_order_head(order)}."


def _order_head(order) -> str:
    text = f"{TYPE_NAMES[order.type]} {order.side} {quantity_text(order.qty)} {order.ticker} {order_terms(order)}"
    return text.strip()


def placed_text(order) -> str:
    """What the ticket and the command line answer an order with: what happened, which stays true when the order
    later fills or expires (its own event updates the panels), unlike "is open"."""
    if order.status != "new":
        return order_text(order)
    return f"Placed: {_order_head(order)} ({order.time_in_force}), id {short_id(order.id)}."


def _as_given(value: object, limit: int = 24) -> str:
    """What the model sent, as text of bounded length (it may be anything: 1e12, NaN, a long string)."""
    text = value if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _trade_action(item: dict) -> dict:
    if item.get("status") == "placed":
        kind = TYPE_NAMES.get(item.get("type"), "Order")
        terms = " ".join(
            f"{word}${price_text(item[key])}" for key, word in (("stop_price", "stop "), ("limit_price", "@ "))
            if isinstance(item.get(key), (int, float))
        )
        text = (f"Placed: {kind} {item['side']} {quantity_text(item['quantity'])} {item['ticker']} {terms} "
                f"({item.get('time_in_force') or 'day'}), id {short_id(item['order_id'])}.")
        return {"ok": True, "text": " ".join(text.split())}
    if item.get("status") == "executed":
        text = fill_text(side=item["side"], quantity=item["quantity"], ticker=item["ticker"], price=item["price"],
                         notional=item["notional"])
        return {"ok": True, "text": text}
    order = " ".join(_as_given(item.get(key)) for key in ("side", "quantity", "ticker"))
    return {"ok": False, "text": f"Not filled: {order}. {item.get('error') or ''}".strip()}


def _watchlist_action(item: dict) -> dict:
    ticker = _as_given(item.get("ticker"))
    if item.get("status") == "executed":
        done = "Added" if item.get("action") == "add" else "Removed"
        where = "to" if item.get("action") == "add" else "from"
        return {"ok": True, "text": f"{done} {ticker} {where} the watchlist."}
    action = _as_given(item.get("action"))
    return {"ok": False, "text": f"Not done: {action} {ticker}. {item.get('error') or ''}".strip()}


def _cancel_action(item: dict) -> dict:
    target = _as_given(item.get("order_id"))
    if item.get("status") == "executed":
        if target == "all":
            count = item.get("canceled") or 0
            return {"ok": True, "text": f"Canceled {count} open order{'s' if count != 1 else ''}."}
        return {"ok": True, "text": f"Canceled order {target}."}
    return {"ok": False, "text": f"Not canceled: {target}. {item.get('error') or ''}".strip()}


def _alert_action(item: dict) -> dict:
    ticker, condition, given = _as_given(item.get("ticker")), _as_given(item.get("condition")), item.get("price")
    if item.get("status") == "executed":
        return {"ok": True, "text": f"Alert set: {ticker} {condition} ${price_text(given)}."}
    return {"ok": False, "text": f"Alert not set: {ticker} {condition} {_as_given(given)}. "
            f"{item.get('error') or ''}".strip()}


def chat_entry(*, role: str, text: str, created_at=None, actions: dict | None = None, error: str = "") -> dict:
    """One message of the conversation as the panel shows it: text, then each action as a confirmation line."""
    actions = actions or {}
    return {
        "role": role,
        "text": text,
        "error": bool(error),
        "created_at": created_at,
        "actions": [_watchlist_action(c) for c in actions.get("watchlist_changes", [])]
        + [_cancel_action(c) for c in actions.get("cancels", [])]
        + [_alert_action(a) for a in actions.get("alerts", [])]
        + [_trade_action(t) for t in actions.get("trades", [])],
    }


def chat_turn_entry(turn: assistant_services.Turn) -> dict:
    actions = {"trades": turn.trades, "watchlist_changes": turn.watchlist_changes, "cancels": turn.cancels,
               "alerts": turn.alerts}
    return chat_entry(role="assistant", text=turn.message, created_at=turn.created_at, actions=actions,
                      error=turn.error or "")


def chat_panel(*, user_id: str) -> dict:
    """The conversation so far (the last messages, oldest first) and what answers: the mock, a model, or nobody."""
    messages = [
        chat_entry(role=m.role, text=m.content, created_at=m.created_at, actions=m.actions, error=m.error)
        for m in assistant_selectors.recent_messages(user_id=user_id)
    ]
    if settings.LLM_MOCK:
        mode = "mock"
    elif assistant_services.is_available():
        mode = settings.LLM_MODEL.rsplit("/", 1)[-1]
    else:
        mode = "not configured"
    notice = "" if assistant_services.is_available() else assistant_services.NOT_CONFIGURED
    return {"chat": {"messages": messages, "mode": mode, "notice": notice, "next_id": new_id()}}


def simulator_panel() -> dict:
    """In simulator mode every price is simulated: the header says so once. The seeded symbols let the page's
    script mark a ticker typed into the trade bar that the simulator would invent a price for."""
    simulated = selectors.simulated_prices()
    return {"sim": {"on": simulated, "seeded": " ".join(selectors.seeded_symbols()) if simulated else ""}}


def page_context(
    *, user_id: str, ticker: str | None = None, timeframe: str = DEFAULT_TIMEFRAME, pnl_span: str = "all"
) -> dict:
    """Everything the page shows at once: each panel's context, the portfolio valued once."""
    # Read before the book: a fill landing in between shows as a newer version on the stream, never the reverse.
    book_version = portfolio_selectors.book_versions([user_id]).get(user_id)
    view = portfolio_selectors.portfolio(user_id=user_id)
    context = watchlist_panel(user_id=user_id)
    context["book_version"] = book_version
    context.update(simulator_panel())
    selected = default_ticker(context["watchlist"], ticker)
    context["selected"] = selected
    context.update(chart_panel(selected, timeframe))
    context.update(feed_panel())
    context.update(summary_panel(view, user_id=user_id))
    context.update(positions_panel(view))
    context.update(heatmap_panel(view))
    context.update(pnl_panel(view, user_id=user_id, span=pnl_span))
    context.update(blotter_panel(user_id=user_id))
    context.update(orders_panel(user_id=user_id))
    context.update(alerts_panel(user_id=user_id))
    context.update(trade_panel(ticker=selected))
    context.update(command_panel())
    context.update(chat_panel(user_id=user_id))
    return context
