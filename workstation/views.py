"""The workstation's HTML views: the page, each panel as an htmx fragment, the forms, the price stream.

One template (workstation.html); each panel is a partial in it, rendered alone as "workstation.html#<id>"
for an htmx request and inside the whole page otherwise. Writes go through the apps' services on this
process's writer thread (core.db.write); a rejection comes back as the form's partial with the message
inline and status 200 (htmx 2 does not swap 4xx responses, and a 4xx would also be logged to the browser
console as a failed request). After a fill the response triggers `portfolio-changed`, and every panel
with portfolio numbers refreshes itself; a watchlist change triggers `watchlist-changed`.
"""

from __future__ import annotations

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from alerts import selectors as alert_selectors
from alerts import services as alert_services
from alerts.exceptions import AlertError, NoSuchAlert
from assistant import services as assistant_services
from core.db import new_id, write
from core.fastpath import database_version, reads
from market import services as market_services
from market.exceptions import MarketError
from market.sse import open_stream
from market.tickers import MAX_TICKER_LENGTH, normalize_ticker
from portfolio import orders as portfolio_orders
from portfolio import selectors as portfolio_selectors
from portfolio import services as portfolio_services
from portfolio.exceptions import NoSuchOrder, TradeRejected
from webhooks import services as webhook_services
from webhooks.models import Delivery, Endpoint
from workstation import commands, panels
from workstation.stream_html import HTML_FORMAT

PAGE = "workstation.html"
PORTFOLIO_CHANGED = "portfolio-changed"
ALERTS_CHANGED = "alerts-changed"
WATCHLIST_CHANGED = "watchlist-changed"
CHOOSE_SIDE = "Choose Buy or Sell: Enter does not pick a side."
ASSISTANT_ASK = "assistant-ask"  # the command line hands text to the chat panel (workstation.js sends it)


def _partial(request: HttpRequest, name: str, context: dict) -> HttpResponse:
    return render(request, f"{PAGE}#{name}", context)


# The chart's timeframe and the P&L chart's span are the user's choices, kept in cookies so that the first paint
# already has them (a year; httponly: no script reads them).
TIMEFRAME_COOKIE = "chart_timeframe"
PNL_SPAN_COOKIE = "pnl_span"
CHOICE_MAX_AGE = 365 * 86400


def _timeframe(request: HttpRequest) -> str:
    return panels.chart_timeframe(request.GET.get("timeframe") or request.COOKIES.get(TIMEFRAME_COOKIE))


def _remember(response: HttpResponse, cookie: str, value: str) -> None:
    response.set_cookie(cookie, value, max_age=CHOICE_MAX_AGE, samesite="Lax", httponly=True)


def _page(request: HttpRequest, ticker: str | None = None, **overrides) -> HttpResponse:
    context = panels.page_context(
        user_id=request.book, ticker=ticker, timeframe=_timeframe(request),
        pnl_span=panels.pnl_span(request.COOKIES.get(PNL_SPAN_COOKIE)),
    )
    context.update(overrides)
    return render(request, PAGE, context)


def _describe_fill(fill) -> str:
    return panels.fill_text(side=fill.side, quantity=fill.quantity, ticker=fill.ticker, price=fill.price,
                            notional=fill.notional, realized_pnl=fill.realized_pnl)


# --- the page and its read-only panels ---------------------------------------------------------------


@require_GET
def workstation(request: HttpRequest) -> HttpResponse:
    return _page(request, request.GET.get("ticker"))


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers ask for /favicon.ico on every page that links no icon (the admin's): the static file, by its
    # hashed name. Not a permanent redirect: the hash changes with the file.
    return redirect(static("favicon.svg"))


def _panel_view(name: str, build):
    """A GET view for one panel: the partial for htmx, the whole page for a plain request."""

    @require_GET
    def view(request: HttpRequest) -> HttpResponse:
        if not request.htmx:
            return _page(request)
        return _partial(request, name, build(request))

    view.__name__ = f"{name}_panel"
    view.__doc__ = f"The {name} panel."
    return view


HTML = "text/html; charset=utf-8"
PNL_NOW_SECONDS = 1.0  # the P&L line ends at "now": a cached one is made again once it is this old


def _book_panel(name: str, build, versions=portfolio_selectors.book_version, lasts: float | None = None, params=None):
    """A GET view for a panel of the book, the ones a trade refreshes: for htmx its partial, answered from
    core.fastpath.reads while the versions it is read from are unchanged (a trade, a tick or a snapshot makes it
    afresh); the whole page for a plain request.

    The partial is rendered without the request, so nothing of one request (its CSRF token, its session) can be
    in a body another request is sent; what else it depends on is in the key."""

    @require_GET
    async def view(request: HttpRequest) -> HttpResponse:
        if not request.htmx:
            return await sync_to_async(_page)(request)

        book = request.book
        # What the panel's own controls chose (a range): each choice a key of its own (the cache is bounded).
        chosen = params(request.GET) if params else {}

        def make():
            body = render_to_string(f"{PAGE}#{name}", build(book, **chosen))
            return body.encode(), (time.time() + lasts if lasts else None)

        return await reads.answer(("panel", name, book, *chosen.values()), versions(), make, content_type=HTML)

    view.__name__ = f"{name}_panel"
    view.__doc__ = f"The {name} panel."
    return view


def _valued(build):
    return lambda book: build(portfolio_selectors.portfolio(user_id=book))


summary = _book_panel(
    "summary", lambda book: panels.summary_panel(portfolio_selectors.portfolio(user_id=book), user_id=book)
)
positions = _book_panel("positions", _valued(panels.positions_panel))
heatmap = _book_panel("heatmap", _valued(panels.heatmap_panel))
_pnl = _book_panel(
    "pnl",
    lambda book, span: panels.pnl_panel(portfolio_selectors.portfolio(user_id=book), user_id=book, span=span),
    lasts=PNL_NOW_SECONDS,
    params=lambda query: {"span": panels.pnl_span(query.get("span"))},
)


@require_GET
async def pnl(request: HttpRequest) -> HttpResponse:
    """The P&L panel; the span it was asked for is remembered for the next page."""
    response = await _pnl(request)
    span = request.GET.get("span")
    if request.htmx and span == panels.pnl_span(span):
        _remember(response, PNL_SPAN_COOKIE, span)
    return response
# The trades are rows of the database only.


@require_GET
async def blotter(request: HttpRequest) -> HttpResponse:
    """The trades panel, filtered by its ticker box and side menu (their values ride along on every refresh)."""
    if not request.htmx:
        return await sync_to_async(_page)(request)
    book, filters = request.book, panels.blotter_filters(request.GET)

    def make():
        body = render_to_string(f"{PAGE}#blotter", panels.blotter_panel(user_id=book, **filters))
        return body.encode(), None

    # The trades are rows of the database only; each filter is a key of its own (the cache is bounded).
    key = ("panel", "blotter", book, filters["ticker"], filters["side"])
    return await reads.answer(key, (database_version(),), make, content_type=HTML)


# Resting orders are rows of the database only.
orders = _book_panel("orders", lambda book: panels.orders_panel(user_id=book), versions=lambda: (database_version(),))


# Alerts are rows of the database only.
alerts = _book_panel("alerts", lambda book: panels.alerts_panel(user_id=book), versions=lambda: (database_version(),))


async def _alerts_response(request: HttpRequest, *, error: str = "", message: str = "", changed: bool = False,
                           **typed: str) -> HttpResponse:
    if not request.htmx:
        return redirect("workstation")
    context = await sync_to_async(panels.alerts_panel)(user_id=request.book, error=error, message=message, **typed)
    response = _partial(request, "alerts", context)
    return trigger_client_event(response, ALERTS_CHANGED) if changed else response


@require_POST
async def alert_add(request: HttpRequest) -> HttpResponse:
    """The alerts panel's form: a ticker, above or below, a price."""
    ticker = request.POST.get("ticker", "")[:MAX_TICKER_LENGTH + 10]
    condition, price = request.POST.get("condition", "")[:10], request.POST.get("price", "").strip()[:30]
    if not price:
        return await _alerts_response(request, error="Give the price the alert waits for.", ticker=ticker,
                                      condition=condition)
    try:
        alert = await write(alert_services.create_alert, user_id=request.book, ticker=ticker, condition=condition,
                            price=price)
    except AlertError as exc:
        return await _alerts_response(request, error=str(exc), ticker=ticker.strip().upper(), condition=condition,
                                      price=price)
    return await _alerts_response(request, message=f"Set: {panels.alert_text(alert)}", ticker=alert.ticker,
                                  changed=True)


@require_POST
async def alert_cancel(request: HttpRequest, alert_id: str) -> HttpResponse:
    try:
        alert = await write(alert_services.cancel_alert, user_id=request.book, alert_id=alert_id[:64])
    except AlertError as exc:  # it fired a moment before: the panel says so
        return await _alerts_response(request, error=str(exc))
    return await _alerts_response(request, message=panels.alert_text(alert), changed=True)


def _selected(request: HttpRequest) -> str | None:
    return request.GET.get("selected") or None


watchlist = _panel_view(
    "watchlist", lambda request: panels.watchlist_panel(user_id=request.book, selected=_selected(request))
)


@require_GET
def chart(request: HttpRequest) -> HttpResponse:
    """The main chart of one ticker (a watchlist row's click)."""
    raw = request.GET.get("ticker", "")
    try:
        ticker = normalize_ticker(raw)
    except MarketError:
        ticker = None
    if not request.htmx:
        return _page(request, ticker)
    timeframe = _timeframe(request)
    response = _partial(request, "chart", panels.chart_panel(ticker, timeframe))
    if request.GET.get("timeframe") == timeframe:  # a timeframe button: remembered for the next page
        _remember(response, TIMEFRAME_COOKIE, timeframe)
    return response


# --- forms ---------------------------------------------------------------------------------------------


# The ticket's price boxes a type uses; the others may still hold what was typed before the type changed.
TICKET_PRICES = {"market": (), "limit": ("limit_price",), "stop": ("stop_price",),
                 "stop_limit": ("stop_price", "limit_price")}


@require_POST
async def trade(request: HttpRequest) -> HttpResponse:
    """The trade ticket: a market order through the one trade engine, or an order that waits (portfolio.orders)."""
    ticker = request.POST.get("ticker", "")[:40]
    quantity = request.POST.get("quantity", "")[:40]
    side = request.POST.get("side", "")
    client_order_id = request.POST.get("client_order_id") or None
    order_type = request.POST.get("type", "market")
    time_in_force = request.POST.get("time_in_force", "day")
    prices = {name: request.POST.get(name, "").strip()[:40] for name in ("limit_price", "stop_price")}
    kept = {"ticker": ticker, "quantity": quantity, "type": order_type, "time_in_force": time_in_force, **prices}

    async def refused(error: str) -> HttpResponse:
        context = panels.trade_panel(**kept, error=error)
        if not request.htmx:
            return await sync_to_async(_page)(request, **context)
        return _partial(request, "tradebar", context)

    if not side:
        # The form sent without a side (Enter in a box; the form's first, disabled button keeps a browser from
        # picking Buy): a trader who meant to sell must not get a buy.
        return await refused(CHOOSE_SIDE)
    if order_type not in TICKET_PRICES:
        return await refused("Choose an order type: market, limit, stop or stop-limit.")
    if order_type == "market":
        try:
            fill = await write(portfolio_services.execute_trade, user_id=request.book, ticker=ticker, side=side,
                               quantity=quantity, client_order_id=client_order_id)
        except TradeRejected as exc:
            return await refused(str(exc))
        if not request.htmx:
            return redirect(f"{reverse('workstation')}?ticker={fill.ticker}")
        response = _partial(request, "tradebar", panels.trade_panel(ticker=fill.ticker, message=_describe_fill(fill)))
        return trigger_client_event(response, PORTFOLIO_CHANGED)
    used = TICKET_PRICES[order_type]
    for name in used:
        if not prices[name]:
            label = "limit" if name == "limit_price" else "stop"
            return await refused(f"A {panels.TYPE_NAMES[order_type].lower()} order needs a {label} price.")
    try:
        order = await write(
            portfolio_orders.place_order, user_id=request.book, ticker=ticker, side=side, qty=quantity,
            type=order_type, time_in_force=time_in_force, client_order_id=client_order_id,
            **{name: prices[name] for name in used},
        )
    except TradeRejected as exc:
        return await refused(str(exc))
    if not request.htmx:
        return redirect(f"{reverse('workstation')}?ticker={order.ticker}")
    # The next order is likely of the same kind: the type and its time in force stay, the numbers go.
    context = panels.trade_panel(ticker=order.ticker, type=order_type, time_in_force=time_in_force,
                                 message=panels.placed_text(order))
    return trigger_client_event(_partial(request, "tradebar", context), PORTFOLIO_CHANGED)


@require_POST
async def close_position(request: HttpRequest) -> HttpResponse:
    """A position's Close: the whole position sold at market, its open sell orders canceled with it (the quantity
    is the one held when the book is locked, not the page's)."""
    ticker = request.POST.get("ticker", "")[:40]
    expected = request.POST.get("expected", "")[:40]
    try:
        closed = await write(portfolio_orders.close_position, user_id=request.book, ticker=ticker, expected=expected)
    except TradeRejected as exc:
        context = panels.trade_panel(ticker=ticker, error=str(exc))
        if not request.htmx:
            return await sync_to_async(_page)(request, **context)
        return _partial(request, "tradebar", context)
    fill = closed.fill
    if not request.htmx:
        return redirect(f"{reverse('workstation')}?ticker={fill.ticker}")
    message = _describe_fill(fill)
    if closed.canceled:
        message += f" Canceled {closed.canceled} open sell order{pluralize(closed.canceled)} of {fill.ticker}."
    response = _partial(request, "tradebar", panels.trade_panel(ticker=fill.ticker, message=message))
    return trigger_client_event(response, PORTFOLIO_CHANGED)


async def _orders_response(
    request: HttpRequest, *, error: str = "", message: str = "", changed: bool = False
) -> HttpResponse:
    if not request.htmx:
        return redirect("workstation")
    context = await sync_to_async(panels.orders_panel)(user_id=request.book, error=error, message=message)
    response = _partial(request, "orders", context)
    return trigger_client_event(response, PORTFOLIO_CHANGED) if changed else response


@require_POST
async def order_cancel(request: HttpRequest, order_id: str) -> HttpResponse:
    """An open-orders row's Cancel: released at once; one that filled meanwhile says so (the fill won)."""
    try:
        await write(portfolio_orders.cancel_order, user_id=request.book, order_id=order_id[:64])
    except TradeRejected as exc:
        # It filled (or expired) a moment before: the panel says so, and the fill's own event refreshes the rest.
        return await _orders_response(request, error=str(exc))
    # The row goes; the other panels (buying power) refresh, and this one with them.
    return await _orders_response(request, changed=True)


@require_POST
async def orders_cancel_all(request: HttpRequest) -> HttpResponse:
    canceled = await write(portfolio_orders.cancel_all, user_id=request.book)
    return await _orders_response(request, message=_canceled_count(canceled), changed=True)


def _canceled_count(canceled: int) -> str:
    return f"Canceled {canceled} open order{'s' if canceled != 1 else ''}." if canceled else "No open orders."


async def _watchlist_response(request: HttpRequest, *, error: str = "", value: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            return await sync_to_async(_page)(request, wl_error=error, wl_value=value)
        return redirect("workstation")
    context = await sync_to_async(panels.watchlist_panel)(
        user_id=request.book, selected=request.POST.get("selected") or None, error=error, value=value
    )
    return _partial(request, "watchlist", context)


@require_POST
async def watchlist_add(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("ticker", "")[:40]
    try:
        await write(market_services.add_ticker, user_id=request.book, ticker=raw)
    except MarketError as exc:
        return await _watchlist_response(request, error=str(exc), value=raw)
    return await _watchlist_response(request)


@require_http_methods(["DELETE", "POST"])
async def watchlist_remove(request: HttpRequest, ticker: str) -> HttpResponse:
    try:
        await write(market_services.remove_ticker, user_id=request.book, ticker=ticker)
    except MarketError as exc:
        return await _watchlist_response(request, error=str(exc))
    return await _watchlist_response(request)


async def _ask(request: HttpRequest, text: str) -> HttpResponse:
    """Text that is not a command is a question for the assistant (when there is one)."""
    if not assistant_services.is_available():
        raise commands.CommandError(
            f"'{commands.shown(text.split()[0])}' is not a command, and questions need the assistant, which is not "
            "configured (OPENROUTER_API_KEY, or LLM_MOCK=true). " + commands.HELP
        )
    try:
        text = assistant_services.clean_message(text)
    except assistant_services.InvalidMessage as exc:
        raise commands.CommandError(str(exc)) from None
    if not request.htmx:
        try:
            await assistant_services.chat(user_id=request.book, message=text)
        except assistant_services.TurnBudgetSpent as exc:
            raise commands.CommandError(str(exc)) from None
        return redirect("workstation")
    # The page's chat panel sends it, so the question shows there at once with its thinking state.
    response = _partial(request, "cmdline", panels.command_panel(message="Asked the assistant."))
    return trigger_client_event(response, ASSISTANT_ASK, {"message": text})


ORDERS_LISTED = 3  # the command line's answer is a line or two: the open-orders panel lists every one


def _open_orders_text(book: str) -> str:
    resting = portfolio_selectors.orders(user_id=book, status="open", limit=settings.ORDERS_OPEN_MAX)
    if not resting:
        return "No open orders."
    text = " ".join(panels.order_text(order) for order in resting[:ORDERS_LISTED])
    more = len(resting) - ORDERS_LISTED
    return text + (f" And {more} more: the Open orders panel lists them all." if more > 0 else "")


async def _cancel(book: str, target: str) -> tuple[str, str]:
    """`cancel all`, or `cancel <id>`: the whole id or the short one the page shows (unique among the open
    orders, else among the active alerts); what was done, and the event it makes."""
    if target == "all":
        return _canceled_count(await write(portfolio_orders.cancel_all, user_id=book)), PORTFOLIO_CHANGED
    try:
        order_id = await sync_to_async(portfolio_selectors.open_order_id)(user_id=book, given=target)
    except NoSuchOrder as no_order:
        try:
            alert_id = await sync_to_async(alert_selectors.active_alert_id)(user_id=book, given=target)
        except NoSuchAlert:
            raise no_order from None
        alert = await write(alert_services.cancel_alert, user_id=book, alert_id=alert_id)
        return panels.alert_text(alert), ALERTS_CHANGED
    order = await write(portfolio_orders.cancel_order, user_id=book, order_id=order_id)
    return panels.canceled_text(order), PORTFOLIO_CHANGED


ALERTS_LISTED = 3


def _active_alerts_text(book: str) -> str:
    active = alert_selectors.alerts(user_id=book, status="active", limit=settings.ALERTS_MAX_ACTIVE)
    if not active:
        return "No active alerts."
    text = " ".join(panels.alert_text(alert) for alert in active[:ALERTS_LISTED])
    more = len(active) - ALERTS_LISTED
    return text + (f" And {more} more: the Alerts panel lists them all." if more > 0 else "")


@require_POST
async def command(request: HttpRequest) -> HttpResponse:
    """The command line: parse, then run through the same services as the buttons."""
    text = request.POST.get("command", "")
    shown = text[: commands.MAX_LENGTH]
    event = None
    try:
        cmd = commands.parse(text)
        if cmd.verb == "ask":
            return await _ask(request, cmd.text)
        if cmd.verb in ("buy", "sell") and cmd.order_type == "market":
            fill = await write(
                portfolio_services.execute_trade, user_id=request.book, ticker=cmd.ticker, side=cmd.verb,
                quantity=cmd.quantity,
            )
            message, event = _describe_fill(fill), PORTFOLIO_CHANGED
        elif cmd.verb in ("buy", "sell"):
            order = await write(
                portfolio_orders.place_order, user_id=request.book, ticker=cmd.ticker, side=cmd.verb,
                qty=cmd.quantity, type=cmd.order_type, time_in_force=cmd.time_in_force,
                limit_price=cmd.limit_price, stop_price=cmd.stop_price,
            )
            message, event = panels.placed_text(order), PORTFOLIO_CHANGED
        elif cmd.verb == "orders":
            message = await sync_to_async(_open_orders_text)(request.book)
        elif cmd.verb == "cancel":
            message, event = await _cancel(request.book, cmd.text)
        elif cmd.verb == "alert":
            alert = await write(alert_services.create_alert, user_id=request.book, ticker=cmd.ticker,
                                condition=cmd.condition, price=cmd.price)
            message, event = f"Set: {panels.alert_text(alert)}", ALERTS_CHANGED
        elif cmd.verb == "alerts":
            message = await sync_to_async(_active_alerts_text)(request.book)
        elif cmd.verb == "add":
            await write(market_services.add_ticker, user_id=request.book, ticker=cmd.ticker)
            message, event = f"Added {cmd.ticker} to the watchlist.", WATCHLIST_CHANGED
        elif cmd.verb == "rm":
            await write(market_services.remove_ticker, user_id=request.book, ticker=cmd.ticker)
            message, event = f"Removed {cmd.ticker} from the watchlist.", WATCHLIST_CHANGED
        else:
            message = commands.HELP + (commands.ASK_HELP if assistant_services.is_available() else "")
    except (commands.CommandError, TradeRejected, MarketError, AlertError) as exc:
        context = panels.command_panel(value=shown, error=str(exc))
        if not request.htmx:
            return await sync_to_async(_page)(request, **context)
        return _partial(request, "cmdline", context)
    if not request.htmx:
        return redirect("workstation")
    response = _partial(request, "cmdline", panels.command_panel(message=message))
    if event:
        trigger_client_event(response, event)
    return response


def _chat_turn(request: HttpRequest, entries: list[dict]) -> HttpResponse:
    # With the turn, a new id for the next message (swapped out of band into the form).
    return _partial(request, "chat_turn", {"turn": entries, "chat": {"next_id": new_id()}})


@require_POST
async def chat(request: HttpRequest) -> HttpResponse:
    """One message to the assistant: the response is the turn (the message, the reply with its actions), appended
    to the conversation; trades and watchlist changes it made refresh their panels like the buttons' do."""
    raw = request.POST.get("message", "")
    asked_at = timezone.now()
    try:
        turn = await assistant_services.chat(
            user_id=request.book, message=raw, client_message_id=request.POST.get("client_message_id")
        )
    except (assistant_services.InvalidMessage, assistant_services.ChatConflict,
            assistant_services.TurnBudgetSpent) as exc:
        if not request.htmx:
            return redirect("workstation")
        return _chat_turn(request, [panels.chat_entry(role="assistant", text=str(exc), error=str(exc))])
    if not request.htmx:
        return redirect("workstation")
    asked = panels.chat_entry(role="user", text=assistant_services.clean_message(raw), created_at=asked_at)
    response = _chat_turn(request, [asked, panels.chat_turn_entry(turn)])
    if any(t["status"] in ("executed", "placed") for t in turn.trades) or any(
        c["status"] == "executed" for c in turn.cancels
    ):
        trigger_client_event(response, PORTFOLIO_CHANGED)
    if any(c["status"] == "executed" for c in turn.watchlist_changes):
        trigger_client_event(response, WATCHLIST_CHANGED)
    if any(a["status"] == "executed" for a in turn.alerts) or any(c.get("alert") for c in turn.cancels):
        trigger_client_event(response, ALERTS_CHANGED)
    return response


# --- settings: the book's webhook -----------------------------------------------------------------


WEBHOOK_DELIVERIES_SHOWN = 50


def _webhooks_page(request: HttpRequest, *, error: str = "", value: str = "", status: int = 200) -> HttpResponse:
    endpoint = Endpoint.objects.filter(user_id=request.book).first()
    deliveries = list(Delivery.objects.filter(user_id=request.book).order_by("-created_at")[:WEBHOOK_DELIVERIES_SHOWN])
    context = {"title": "Webhooks", "endpoint": endpoint, "deliveries": deliveries, "error": error,
               "value": value or (endpoint.url if endpoint else ""), "events": webhook_services.EVENTS}
    response = render(request, "workstation/webhooks.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page shows the signing secret
    return response


@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    """The book's webhook: its URL and signing secret, and its deliveries with their status."""
    if request.method == "GET":
        return _webhooks_page(request)
    if request.POST.get("remove"):
        webhook_services.remove_endpoint(user_id=request.book)
        return redirect("webhooks")
    url = request.POST.get("url", "")[:webhook_services.MAX_URL_LENGTH + 1]
    try:
        webhook_services.set_endpoint(user_id=request.book, url=url)
    except webhook_services.WebhookError as exc:
        return _webhooks_page(request, error=str(exc), value=url, status=400)
    return redirect("webhooks")


# --- the live prices --------------------------------------------------------------------------------


async def price_stream(request: HttpRequest):
    """The page's one EventSource: each tick as one HTML `tick` event, rendered once per process by the hub, and
    a `book` event when this user's book changed anywhere else (another tab, the assistant, another process)."""
    # The version of the book the page was rendered with: a fill between the page and its stream is told too. A
    # made-up one costs the client an extra refresh of its own panels, nothing else.
    raw = request.GET.get("book", "")
    since = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    return await open_stream(HTML_FORMAT, user=request.book, since=since)
