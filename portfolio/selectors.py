"""Reads of the portfolio: valuation at live prices, P&L, weights and history, as plain data."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from django.db import connection
from django.db.models import F, OuterRef, Q, Subquery

from core.fastpath import database_version
from market.quotes import Quote
from market.selectors import prices_version
from market.sessions import EASTERN
from market.store import get_store
from portfolio import trade_sql
from portfolio.exceptions import NoSuchOrder
from portfolio.models import STARTING_CASH, Order, PortfolioSnapshot, Position, Profile, Trade
from portfolio.money import to_cents
from portfolio.trade_sql import Holding


@dataclass(frozen=True)
class PositionView:
    ticker: str
    quantity: Decimal
    avg_cost: Decimal
    cost_basis: Decimal
    # None while the ticker has no price in the store; the position is then valued at cost.
    current_price: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    unrealized_pnl_percent: Decimal
    day_change_percent: float | None
    weight: float  # share of the invested value, for the heatmap


@dataclass(frozen=True)
class PortfolioView:
    cash_balance: Decimal
    total_value: Decimal
    invested_value: Decimal
    cost_basis: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    positions: list[PositionView]
    # The cash resting buy orders leave free: what a new buy may spend (portfolio.orders).
    buying_power: Decimal = Decimal(0)


def _value(position: Position | Holding, quote: Quote | None) -> tuple[Decimal | None, Decimal]:
    if quote is None:
        return None, position.cost_basis
    price = Decimal(str(quote.price))
    return price, to_cents(position.quantity * price)


def market_value(positions: Iterable[Position | Holding], quotes: dict[str, Quote]) -> Decimal:
    """Σ quantity × price, at cost where a ticker has no price; for model rows or the engine's holdings."""
    return sum((_value(p, quotes.get(p.ticker))[1] for p in positions), Decimal(0))


def book_version() -> tuple:
    """The versions of everything a book is read from, for the cached reads (core.fastpath.ReadCache): the database
    (cash, positions, trades, snapshots) and the price store (the quotes it is valued at). A None in it (PostgreSQL,
    Redis) means no cheap version exists, and the read is made afresh."""
    return database_version(), prices_version()


def portfolio(*, user_id: str) -> PortfolioView:
    """Valuation at live prices; cash, positions and realized P&L come from one consistent read."""
    with connection.cursor() as cursor:
        book = trade_sql.read_book(cursor, user_id)
    if book is None:
        raise Profile.DoesNotExist(f"There is no portfolio for user {user_id!r}.")
    holdings = list(book.holdings.values())
    quotes = get_store().quotes([h.ticker for h in holdings]) if holdings else {}
    valued = [(h, *_value(h, quotes.get(h.ticker))) for h in holdings]
    invested = sum((value for _, _, value in valued), Decimal(0))
    views = []
    for holding, price, value in valued:
        pnl = value - holding.cost_basis
        quote = quotes.get(holding.ticker)
        views.append(
            PositionView(
                ticker=holding.ticker,
                quantity=holding.quantity,
                avg_cost=holding.avg_cost,
                cost_basis=holding.cost_basis,
                current_price=price,
                market_value=value,
                unrealized_pnl=pnl,
                # Ties away from zero, as every figure the page shows (static/js/format.js recomputes it each tick).
                unrealized_pnl_percent=(pnl / holding.cost_basis * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
                if holding.cost_basis
                else Decimal(0),
                day_change_percent=round(quote.change_percent, 4) if quote else None,
                weight=float(value / invested) if invested else 0.0,
            )
        )
    cost = sum((h.cost_basis for h in holdings), Decimal(0))
    return PortfolioView(
        cash_balance=book.cash,
        total_value=book.cash + invested,
        invested_value=invested,
        cost_basis=cost,
        unrealized_pnl=invested - cost,
        realized_pnl=book.realized_pnl,
        positions=views,
        buying_power=book.cash - book.reserved_cash,
    )


HISTORY_MAX_POINTS = 1000


def day_start(now: datetime) -> datetime:
    """The start of the US Eastern calendar day holding `now`: where a day's P&L is counted from."""
    return now.astimezone(EASTERN).replace(hour=0, minute=0, second=0, microsecond=0)


def day_start_value(*, user_id: str, now: datetime) -> Decimal | None:
    """The book's total value when the day began: its last snapshot before the day, else the day's first (a book
    begun today); None before any snapshot. Trades move cash into shares at the price, so the value's change
    since then is the day's P&L, realized and unrealized, whatever was bought or sold in between."""
    found = day_start_snapshot(user_id=user_id, now=now)
    return found[0] if found else None


def day_start_snapshot(*, user_id: str, now: datetime) -> tuple[Decimal, datetime] | None:
    """The snapshot day_start_value reads, with its time (before the day's start, unless the book began today):
    the header's day P&L and the P&L chart's session span count from the same value."""
    start = day_start(now)
    snapshots = PortfolioSnapshot.objects.filter(user_id=user_id).values_list("total_value", "recorded_at")
    before = snapshots.filter(recorded_at__lt=start).order_by("-recorded_at").first()
    if before is not None:
        return before
    return snapshots.filter(recorded_at__gte=start).order_by("recorded_at").first()


def snapshot_series(
    *,
    user_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
    max_points: int = HISTORY_MAX_POINTS,
) -> list[tuple[Decimal, datetime]]:
    """Total value over time, thinned to at most `max_points` snapshots evenly spaced in time (the latest kept).

    A year of snapshots is about half a million rows; a chart needs a thousand points at most. Thinned, the span
    is cut into `max_points` equal slices of time and each keeps its latest snapshot: one index probe per slice
    (thinning_sql), where counting the rows and numbering them to keep every n-th read all of them (0.49 s at a
    year of snapshots, bench/README.md). The chart's axis is time, so even in time is what it draws evenly.
    """
    snapshots = PortfolioSnapshot.objects.filter(user_id=user_id)
    if since is not None:
        snapshots = snapshots.filter(recorded_at__gte=since)
    if until is not None:
        snapshots = snapshots.filter(recorded_at__lte=until)
    by_time = snapshots.order_by("recorded_at")
    # More than max_points? Found through the index by skipping max_points entries, without counting them all.
    if not by_time[max_points : max_points + 1].exists():
        return list(by_time.values_list("total_value", "recorded_at"))
    first = by_time.values_list("recorded_at", flat=True).first()
    last = snapshots.order_by("-recorded_at").values_list("recorded_at", flat=True).first()
    if first is None or last is None or last < first:
        return []  # a reset deleted the history between these reads (each is a statement of its own)
    sql, params = thinning_sql(user_id=user_id, first=first, last=last, slices=max_points)
    value, at = (PortfolioSnapshot._meta.get_field(name).get_col("p") for name in ("total_value", "recorded_at"))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # The row values as the ORM would give them (Decimal, an aware datetime), with the ORM's own converters.
    converters = [_converters(value), _converters(at)]
    return [
        tuple(
            _convert(raw, column, converters[i])
            for i, (raw, column) in enumerate(zip(row, (value, at), strict=True))
        )
        for row in rows
    ]


def _converters(column) -> list:
    return connection.ops.get_db_converters(column) + column.output_field.get_db_converters(connection)


def _convert(raw, column, converters: list):
    for convert in converters:
        raw = convert(raw, column, connection)
    return raw


def thinning_sql(*, user_id: str, first: datetime, last: datetime, slices: int) -> tuple[str, list]:
    """The value and time of the latest snapshot in each of `slices` equal slices of time from `first` to `last`
    (both included; a slice without one gives no row), in time order: one statement, each slice one search of
    the (user_id, recorded_at) index from its end, then one of the primary key."""
    width = (last - first) / slices
    adapt = connection.ops.adapt_datetimefield_value
    # The last slice ends just after `last`, so the latest snapshot is always kept.
    bounds = [adapt(first + width * i) for i in range(slices)] + [adapt(last + timedelta(microseconds=1))]
    params: list = []
    for start, end in pairwise(bounds):
        params += [start, end]
    values = ", ".join(["(%s, %s)"] * slices)
    sql = (
        f"WITH slices (starts, ends) AS (VALUES {values})"
        " SELECT p.total_value, p.recorded_at FROM slices JOIN portfolio_snapshots p ON p.id = ("
        "SELECT s.id FROM portfolio_snapshots s"
        " WHERE s.user_id = %s AND s.recorded_at >= slices.starts AND s.recorded_at < slices.ends"
        " ORDER BY s.recorded_at DESC LIMIT 1)"
        " ORDER BY p.recorded_at"
    )
    return sql, [*params, user_id]


def book_versions(user_ids: Collection[str]) -> dict[str, int]:
    """Each book's version (moved by every fill and reset): the price hub's per-user events (market/hub.py)."""
    return dict(Profile.objects.filter(pk__in=list(user_ids)).values_list("id", "version"))


def book_of(*, account_id: int) -> str | None:
    """The id of the book an account owns, if it has opened one (portfolio.services.open_book)."""
    return Profile.objects.filter(account_id=account_id).values_list("id", flat=True).first()


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    name: str
    return_percent: Decimal  # since the book started (its last reset): latest value against the $10,000 start
    as_of: datetime


def leaderboard(*, limit: int = 100) -> list[LeaderboardRow]:
    """The books whose owners opted in, best return first: a display name and a return, never cash or positions.

    Valued at each book's latest snapshot, so it moves on the snapshot interval (and at each fill), not per tick."""
    latest = PortfolioSnapshot.objects.filter(user_id=OuterRef("pk")).order_by("-recorded_at")
    books = (
        Profile.objects.filter(on_leaderboard=True)
        .annotate(value=Subquery(latest.values("total_value")[:1]), at=Subquery(latest.values("recorded_at")[:1]))
        .filter(value__isnull=False)
        .order_by("-value", "display_name")
        .values_list("display_name", "value", "at")[:limit]
    )
    return [
        LeaderboardRow(
            rank=rank,
            name=name,
            return_percent=((value / STARTING_CASH - 1) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
            as_of=at,
        )
        for rank, (name, value, at) in enumerate(books, start=1)
    ]


def held_tickers(*, user_id: str | None = None) -> set[str]:
    """Every ticker this user (or, when None, any user) holds: the price worker keeps these priced even off the
    watchlist, so the watchlist's cap counts them."""
    held = Position.objects.all() if user_id is None else Position.objects.filter(user_id=user_id)
    # order_by() keeps the model's default ordering out of DISTINCT (it would return one row per position).
    return set(held.order_by().values_list("ticker", flat=True).distinct())


def resting_tickers(*, user_id: str | None = None) -> set[str]:
    """Every ticker this user (or, when None, any user) has a resting order in: the worker keeps it priced, or the
    order could never fill, so the watchlist's cap counts it as it counts a held one."""
    resting = Order.objects.filter(status=Order.Status.NEW)
    if user_id is not None:
        resting = resting.filter(user_id=user_id)
    return set(resting.order_by().values_list("ticker", flat=True).distinct())


ORDER_STATUSES = {"open": [Order.Status.NEW], "closed": [s for s in Order.Status.values if s != Order.Status.NEW]}


def orders(*, user_id: str, status: str = "open", ticker: str | None = None, limit: int = 50) -> list[Order]:
    """The book's orders, newest first: `open` (resting), `closed` (filled, canceled, expired, rejected) or `all`."""
    rows = Order.objects.filter(user_id=user_id)
    if status != "all":
        rows = rows.filter(status__in=ORDER_STATUSES[status])
    if ticker is not None:
        rows = rows.filter(ticker=ticker)
    return list(rows.order_by("-created_at", "-id")[:limit])


def resting_fills(*, user_id: str, since: datetime, limit: int = 10) -> list[Order]:
    """Orders that waited and have filled since `since`, newest first: what the page tells its user of (a fill the
    worker made, with no click of theirs to answer)."""
    # Filled after it was placed: a marketable limit fills as it is placed (one time for both), and its click's
    # answer already said so.
    rows = Order.objects.filter(user_id=user_id, status="filled", filled_at__gte=since, filled_at__gt=F("created_at"))
    rows = rows.exclude(type="market")
    return list(rows.order_by("-filled_at")[:limit])


# An order's id as people see it (the open-orders panel, the command line, the assistant's context): its last
# characters, as a UUID 7's first ones are its time, shared by orders placed together.
SHORT_ORDER_ID = 8


def short_order_id(order_id: str) -> str:
    return order_id[-SHORT_ORDER_ID:]


def open_order_id(*, user_id: str, given: str) -> str:
    """The id of the book's one open order that `given` names, whole or by its short form; NoSuchOrder if none
    does or more than one do (a short form is never guessed at)."""
    given = given.strip().lower()
    if len(given) < 4:
        raise NoSuchOrder(f"No open order has the id {given!r}: give the id as listed.")
    found = list(
        Order.objects.filter(user_id=user_id, status=Order.Status.NEW, id__endswith=given)
        .values_list("id", flat=True)[:2]
    )
    if len(found) != 1:
        raise NoSuchOrder(
            f"No open order has the id {given}." if not found else f"More than one open order ends in {given}: "
            "give more of the id."
        )
    return found[0]


def order(*, user_id: str, order_id: str) -> Order:
    """One of the book's orders; NoSuchOrder for another book's, exactly as for one that never was."""
    found = Order.objects.filter(user_id=user_id, pk=order_id).first()
    if found is None:
        raise NoSuchOrder("There is no such order.")
    return found


@dataclass(frozen=True)
class TradeView:
    executed_at: datetime
    ticker: str
    side: str
    quantity: Decimal
    price: Decimal
    notional: Decimal
    realized_pnl: Decimal | None


def recent_trades(*, user_id: str, limit: int = 50, ticker: str = "", side: str = "") -> list[TradeView]:
    """The newest trades first, for the blotter: those of tickers starting with `ticker`, of `side`, if given."""
    rows = Trade.objects.filter(user_id=user_id)
    if ticker:
        rows = rows.filter(ticker__startswith=ticker)
    if side:
        rows = rows.filter(side=side)
    rows = rows.order_by("-executed_at")[:limit]
    return [
        TradeView(t.executed_at, t.ticker, t.side, t.quantity, t.price, t.notional, t.realized_pnl) for t in rows
    ]


TRADES_PAGE = 50
TRADES_MAX_LIMIT = 500


class NoSuchTrade(LookupError):
    """A page cursor that names no trade of this user."""


def trades_page(
    *,
    user_id: str,
    ticker: str | None = None,
    side: str | None = None,
    limit: int = TRADES_PAGE,
    before: str | None = None,
) -> tuple[list[Trade], str | None]:
    """The trades newest first, `limit` at a time, and the cursor of the next (older) page or None.

    Keyed on (executed_at, id), both of which only grow: a trade filled between two page reads appears on no
    page twice and moves no trade from one page to another, as an offset would.
    """
    trades = Trade.objects.filter(user_id=user_id)
    if ticker is not None:
        trades = trades.filter(ticker=ticker)
    if side is not None:
        trades = trades.filter(side=side)
    if before is not None:
        cursor = Trade.objects.filter(user_id=user_id, pk=before).values_list("executed_at", flat=True).first()
        if cursor is None:
            raise NoSuchTrade(f"before: there is no trade {before!r}.")
        trades = trades.filter(Q(executed_at__lt=cursor) | Q(executed_at=cursor, pk__lt=before))
    rows = list(trades.order_by("-executed_at", "-pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].pk if more else None


EXPORT_CHUNK = 2000


def trades_after(*, user_id: str, after: tuple | None, size: int = EXPORT_CHUNK) -> list[tuple]:
    """The next `size` trades oldest first, after the (executed_at, id) `after` (None: from the first): the CSV
    export reads them a chunk at a time, so a long history is never held whole."""
    trades = Trade.objects.filter(user_id=user_id)
    if after is not None:
        at, pk = after
        trades = trades.filter(Q(executed_at__gt=at) | Q(executed_at=at, pk__gt=pk))
    return list(
        trades.order_by("executed_at", "pk").values_list(
            "executed_at", "id", "side", "ticker", "quantity", "price", "realized_pnl", "client_order_id"
        )[:size]
    )
