"""The trade engine's reads and writes, as plain parametrized SQL on Django's connection.

An order runs its statements while it holds the database's write lock, and every order in the process
queues behind it. Through the ORM they cost about 1.1 ms of Python; as SQL, 0.16 ms (bench/README.md).
The book (cash and positions) is also read here for valuations, in one statement, so that a trade
committing in between can never be half seen. The models in models.py still define these tables, and
everything else uses the ORM. Values are adapted the way the ORM adapts them, so the ORM reads these rows
back unchanged.

The statements are written once, with the `%s` placeholders of Django's cursor, and run on the cursor that
`cursor()` gives.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections

from core.db import new_id
from portfolio.money import AVERAGE_STEP, CENT, PRICE_STEP, QUANTITY_STEP


@dataclass
class Holding:
    """A position row as the engine sees it; `id` is None until it is inserted."""

    id: str | None
    ticker: str
    quantity: Decimal
    avg_cost: Decimal
    cost_basis: Decimal


@dataclass(frozen=True)
class Book:
    """Cash, positions and realized P&L of one user, as of one moment."""

    cash: Decimal
    holdings: dict[str, Holding]
    realized_pnl: Decimal
    # What the book's resting buys hold back of the cash (portfolio.orders): buying power is cash minus this.
    reserved_cash: Decimal = Decimal("0.00")


class _DriverCursor:
    """The database driver's own cursor, behind what Django's cursor wrapper guarantees (see `cursor`)."""

    __slots__ = ("db", "_cursor", "_placeholders")

    def __init__(self, db, cursor) -> None:
        self.db = db  # as on Django's cursor: the connection it belongs to
        self._cursor = cursor
        self._placeholders = _qmark if db.vendor == "sqlite" else _same

    def execute(self, sql: str, params) -> None:
        self.db.validate_no_broken_transaction()
        with self.db.wrap_database_errors:
            self._cursor.execute(self._placeholders(sql), params)

    def fetchone(self):
        with self.db.wrap_database_errors:
            return self._cursor.fetchone()

    def fetchall(self):
        with self.db.wrap_database_errors:
            return self._cursor.fetchall()


_PLACEHOLDER = re.compile(r"(?<!%)%s")


@functools.lru_cache(maxsize=64)
def _qmark(sql: str) -> str:
    # Django's placeholders to sqlite3's, as Django's SQLite cursor converts them (`%%` is a literal `%`, so
    # `%%s` is the text `%s`, not a placeholder).
    return _PLACEHOLDER.sub("?", sql).replace("%%", "%")


def _same(sql: str) -> str:
    return sql


@contextmanager
def cursor():
    """The cursor the engine's statements run on, inside the caller's transaction.

    Django's cursor wrapper costs about 6 µs of Python per statement, more than the 4 µs the statement takes
    through sqlite3 itself, and an order runs seven statements while every other order of the process waits for
    the write lock: 14 % of an order's instructions in the web process (bench/README.md). The engine runs them on
    the driver's cursor instead, keeping what the wrapper guarantees: a driver error is raised as Django's (an
    OperationalError still means "try again" to the API, and Django still checks the connection after it), and no
    statement runs in a transaction Django has marked broken.

    When anything watches the connection's statements (the DEBUG query log, `assertNumQueries`,
    `connection.execute_wrapper()`), they go through Django's cursor as before, so they are seen. A monitoring
    agent that patches Django's `CursorWrapper` instead (as some APM clients do) sees the engine's statements only
    through the transaction around them; `connection.execute_wrapper()` is the hook that sees them all.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.queries_logged or db.execute_wrappers:
        with db.cursor() as django_cursor:
            yield django_cursor
        return
    db.ensure_connection()
    with db.wrap_database_errors:
        driver_cursor = db.connection.cursor()
    try:
        yield _DriverCursor(db, driver_cursor)
    finally:
        driver_cursor.close()


def _decimal(value, step: Decimal) -> Decimal:
    # SQLite hands NUMERIC columns back as float/int; str() of those is exact for our <= 15 digits.
    return Decimal(str(value)).quantize(step)


def _for_update(cursor) -> str:
    # Row locks on PostgreSQL; SQLite has none, and needs none under BEGIN IMMEDIATE.
    return " FOR UPDATE" if cursor.db.features.has_select_for_update else ""


def _when(cursor, at: datetime):
    return cursor.db.ops.adapt_datetimefield_value(at)


def read_book(cursor, user_id: str) -> Book | None:
    """The whole book in ONE statement: SQLite and PostgreSQL both read a statement from one snapshot."""
    cursor.execute(
        "SELECT u.cash_balance,"
        " (SELECT SUM(t.realized_pnl) FROM trades t WHERE t.user_id = u.id AND t.side = 'sell'),"
        " (SELECT SUM(o.reserved_cash) FROM orders o WHERE o.user_id = u.id AND o.status = 'new'),"
        " p.id, p.ticker, p.quantity, p.avg_cost, p.cost_basis"
        " FROM users_profile u LEFT JOIN positions p ON p.user_id = u.id"
        " WHERE u.id = %s ORDER BY p.ticker",
        [user_id],
    )
    rows = cursor.fetchall()
    if not rows:
        return None
    cash, realized, reserved = rows[0][0], rows[0][1], rows[0][2]
    holdings = {
        ticker: Holding(pk, ticker, _decimal(qty, QUANTITY_STEP), _decimal(avg, AVERAGE_STEP), _decimal(basis, CENT))
        for _, _, _, pk, ticker, qty, avg, basis in rows
        if pk is not None
    }
    return Book(
        cash=_decimal(cash, CENT),
        holdings=holdings,
        realized_pnl=_decimal(realized, CENT) if realized is not None else Decimal("0.00"),
        reserved_cash=_decimal(reserved, CENT) if reserved is not None else Decimal("0.00"),
    )


def lock_cash(cursor, user_id: str) -> Decimal | None:
    cursor.execute("SELECT cash_balance FROM users_profile WHERE id = %s" + _for_update(cursor), [user_id])
    row = cursor.fetchone()
    return _decimal(row[0], CENT) if row else None


@dataclass(frozen=True)
class PastOrder:
    """An order already recorded under a client_order_id: what a retry is compared with."""

    id: str
    client_order_id: str
    type: str
    status: str
    ticker: str
    side: str
    qty: Decimal
    trade_id: str | None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "day"


def find_order(cursor, user_id: str, client_order_id: str) -> PastOrder | None:
    """The order a client_order_id already names, if any. Every order from the trade bar carries an id, and almost
    none is a retry: this indexed lookup costs a fraction of the ORM query it replaces (bench/README.md)."""
    cursor.execute(
        "SELECT id, type, status, ticker, side, qty, trade_id, limit_price, stop_price, time_in_force FROM orders"
        " WHERE user_id = %s AND client_order_id = %s",
        [user_id, client_order_id],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    pk, type_, status, ticker, side, qty, trade_id, limit_price, stop_price, time_in_force = row
    return PastOrder(
        pk, client_order_id, type_, status, ticker, side, _decimal(qty, QUANTITY_STEP), trade_id,
        None if limit_price is None else _decimal(limit_price, PRICE_STEP),
        None if stop_price is None else _decimal(stop_price, PRICE_STEP),
        time_in_force,
    )


@dataclass(frozen=True)
class HeldBack:
    """What a book's resting orders reserve: cash for its buys, shares (by ticker) for its sells."""

    cash: Decimal
    shares: dict[str, Decimal]


NOTHING_HELD = HeldBack(Decimal("0.00"), {})


def held_back(cursor, user_id: str, *, except_order: str | None = None) -> HeldBack:
    """The reservations of the book's resting orders (but `except_order`'s, the one filling): read under the book's
    lock, which every order write takes first, so no order can be placed or closed while the caller uses it."""
    cursor.execute(
        "SELECT side, ticker, SUM(qty), SUM(reserved_cash) FROM orders"
        " WHERE user_id = %s AND status = 'new' AND id <> %s GROUP BY side, ticker",
        [user_id, except_order or ""],
    )
    rows = cursor.fetchall()
    if not rows:
        return NOTHING_HELD
    cash = sum((_decimal(reserved, CENT) for side, _, _, reserved in rows if side == "buy"), Decimal("0.00"))
    shares = {ticker: _decimal(qty, QUANTITY_STEP) for side, ticker, qty, _ in rows if side == "sell"}
    return HeldBack(cash, shares)


def insert_filled_order(
    cursor, *, user_id: str, fill, type: str = "market", time_in_force: str = "day", limit_price: Decimal | None = None
) -> str:
    """The record of an order that filled as it was placed (a market order, a marketable limit)."""
    order_id = new_id()
    when = _when(cursor, fill.executed_at)
    cursor.execute(
        "INSERT INTO orders (id, user_id, ticker, side, qty, type, time_in_force, limit_price, client_order_id,"
        " status, created_at, filled_at, filled_qty, filled_avg_price, trade_id, reserved_cash, acts_at_or_below,"
        " reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'filled', %s, %s, %s, %s, %s, 0, %s, '')",
        [order_id, user_id, fill.ticker, fill.side, fill.quantity, type, time_in_force, limit_price,
         fill.client_order_id, when, when, fill.quantity, fill.price, fill.id, False],
    )
    return order_id


def webhook_endpoint(cursor, user_id: str) -> str | None:
    """The book's webhook endpoint's id, or None (webhooks' table, read here as the engine reads its own: an order
    of a book without a webhook pays one indexed read on the driver's cursor, nothing more)."""
    cursor.execute("SELECT id FROM webhook_endpoints WHERE user_id = %s", [user_id])
    row = cursor.fetchone()
    return row[0] if row else None


def watches(cursor, user_id: str, ticker: str) -> bool:
    """Whether the user watches the ticker (market's watchlist table, read here as the engine reads its own)."""
    cursor.execute("SELECT 1 FROM watchlist WHERE user_id = %s AND ticker = %s", [user_id, ticker])
    return cursor.fetchone() is not None


def lock_holdings(cursor, user_id: str) -> dict[str, Holding]:
    cursor.execute(
        "SELECT id, ticker, quantity, avg_cost, cost_basis FROM positions WHERE user_id = %s" + _for_update(cursor),
        [user_id],
    )
    return {
        ticker: Holding(pk, ticker, _decimal(qty, QUANTITY_STEP), _decimal(avg, AVERAGE_STEP), _decimal(basis, CENT))
        for pk, ticker, qty, avg, basis in cursor.fetchall()
    }


def save_holding(cursor, user_id: str, holding: Holding, at: datetime) -> None:
    when = _when(cursor, at)
    if holding.id is None:
        holding.id = new_id()
        cursor.execute(
            "INSERT INTO positions (id, user_id, ticker, quantity, avg_cost, cost_basis, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [holding.id, user_id, holding.ticker, holding.quantity, holding.avg_cost, holding.cost_basis, when],
        )
    else:
        cursor.execute(
            "UPDATE positions SET quantity = %s, avg_cost = %s, cost_basis = %s, updated_at = %s WHERE id = %s",
            [holding.quantity, holding.avg_cost, holding.cost_basis, when, holding.id],
        )


def delete_holding(cursor, holding: Holding) -> None:
    cursor.execute("DELETE FROM positions WHERE id = %s", [holding.id])


def set_cash(cursor, user_id: str, cash: Decimal) -> None:
    cursor.execute("UPDATE users_profile SET cash_balance = %s, version = version + 1 WHERE id = %s", [cash, user_id])


def insert_trade(
    cursor, *, user_id: str, ticker: str, side: str, quantity: Decimal, price: Decimal, at: datetime,
    realized_pnl: Decimal | None, client_order_id: str | None,
) -> str:
    trade_id = new_id()
    cursor.execute(
        "INSERT INTO trades"
        " (id, user_id, ticker, side, quantity, price, executed_at, realized_pnl, client_order_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [trade_id, user_id, ticker, side, quantity, price, _when(cursor, at), realized_pnl, client_order_id],
    )
    return trade_id


def insert_snapshot(cursor, *, user_id: str, total_value: Decimal, at: datetime) -> None:
    cursor.execute(
        "INSERT INTO portfolio_snapshots (id, user_id, total_value, recorded_at) VALUES (%s, %s, %s, %s)",
        [new_id(), user_id, total_value, _when(cursor, at)],
    )


def bump_version(cursor, user_id: str) -> None:
    """Something of the book the page shows changed without its cash moving (an order placed, canceled,
    expired): its open pages refresh at the next tick, as after a fill (market.hub)."""
    cursor.execute("UPDATE users_profile SET version = version + 1 WHERE id = %s", [user_id])


def lock_books(cursor, user_ids: list[str]) -> None:
    """Take several books' rows, in id order (as the interval snapshot does, so the two cannot deadlock)."""
    for start in range(0, len(user_ids), 500):
        chunk = sorted(user_ids)[start:start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            f"SELECT id FROM users_profile WHERE id IN ({marks}) ORDER BY id" + _for_update(cursor), chunk
        )
        cursor.fetchall()


def resting_count(cursor, user_id: str) -> int:
    cursor.execute("SELECT COUNT(*) FROM orders WHERE user_id = %s AND status = 'new'", [user_id])
    return cursor.fetchone()[0]


# Tickers per matching statement: two SELECTs each in one UNION ALL, under SQLite's 500 terms of a compound SELECT.
REACHED_TICKERS_PER_QUERY = 200


def reached_orders(prices: dict[str, Decimal], now) -> list[tuple[str, str]]:
    """(id, user) of every resting order one of these prices reaches and whose session has not ended by `now`:
    two index range reads per ticker (an empty range costs next to nothing) over the resting orders' (ticker,
    direction, watch_price) index, so the cost follows the orders reached, not the orders resting (bench/README.md,
    issue 22).
    A day order past its end is never reached, even while expiry has not closed it yet (a worker down across the
    session's end catches up a batch a tick)."""
    tickers = sorted(prices)
    with cursor() as c:
        found: list[tuple[str, str]] = []
        when = connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(now)
        for start in range(0, len(tickers), REACHED_TICKERS_PER_QUERY):
            parts, params = [], []
            for ticker in tickers[start:start + REACHED_TICKERS_PER_QUERY]:
                for at_or_below, compare in ((True, ">="), (False, "<=")):
                    parts.append("SELECT id, user_id FROM orders WHERE status = 'new' AND ticker = %s AND"
                                 f" acts_at_or_below = %s AND watch_price {compare} %s"
                                 " AND (expires_at IS NULL OR expires_at > %s)")
                    params += [ticker, at_or_below, prices[ticker], when]
            c.execute(" UNION ALL ".join(parts), params)
            found += c.fetchall()
        return found
