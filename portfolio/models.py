"""Cash, positions, the append-only trade log and value snapshots.

Money is Decimal everywhere and every write is rounded to the cent (see services.py), so cash never
drifts. Amounts stay within 15 significant digits, which SQLite stores and Django reads back exactly.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from core.db import DEFAULT_USER, new_id
from portfolio.money import cost_of, proceeds_of

STARTING_CASH = Decimal("10000.00")

MONEY = {"max_digits": 14, "decimal_places": 2}
QUANTITY = {"max_digits": 14, "decimal_places": 4}
PRICE = {"max_digits": 14, "decimal_places": 4}
AVERAGE = {"max_digits": 15, "decimal_places": 6}


class Profile(models.Model):
    """A book: its cash, and whose it is.

    Every row of the book (positions, trades, snapshots, watchlist, chat) names it by `id`, the "user id" of SPEC
    §4. The implicit user of ACCOUNTS=off is the book `default`; with ACCOUNTS=on each account owns one book
    (`account`), and the first account made takes over `default` (portfolio.services.open_book).
    """

    id = models.CharField(primary_key=True, max_length=64, default=DEFAULT_USER)
    cash_balance = models.DecimalField(**MONEY, default=STARTING_CASH)
    created_at = models.DateTimeField(default=timezone.now)
    # An account with a book is deactivated, not deleted: its trades are the record, and a book is never handed
    # on to whoever comes next.
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="book"
    )
    # One more at every fill and reset, in the same statement that moves the cash: how a page learns, at the next
    # tick, that its book changed elsewhere (another tab, the assistant, another web process).
    version = models.BigIntegerField(default=0, editable=False)
    # The leaderboard: opt-in, under a name of the account's choosing (never the username unless it says so).
    on_leaderboard = models.BooleanField("show on the leaderboard", default=False)
    display_name = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        db_table = "users_profile"
        constraints = [
            models.CheckConstraint(condition=Q(cash_balance__gte=0), name="profile_cash_not_negative"),
            # Two books shown under one name would let one pass for the other on the leaderboard.
            models.UniqueConstraint(
                Lower("display_name"), condition=Q(on_leaderboard=True), name="leaderboard_display_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class Position(models.Model):
    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    # No index of its own: the unique (user_id, ticker) constraint's index serves lookups by user too, and a
    # second one was one more page to write at every position an order opens or closes.
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    ticker = models.CharField(max_length=12)
    quantity = models.DecimalField(**QUANTITY)
    avg_cost = models.DecimalField(**AVERAGE)
    # What the shares still held cost, to the cent: avg_cost × quantity would drift by rounding,
    # and realized P&L on a sell is the proceeds minus the part of this it releases.
    cost_basis = models.DecimalField(**MONEY)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "positions"
        ordering = ["ticker"]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "ticker"], name="position_user_ticker_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="position_quantity_positive"),
            models.CheckConstraint(condition=Q(cost_basis__gte=0), name="position_cost_basis_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.ticker}"


class Trade(models.Model):
    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    ticker = models.CharField(max_length=12)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**PRICE)
    executed_at = models.DateTimeField(default=timezone.now)
    # Proceeds minus the cost basis released, for sells; null for buys.
    realized_pnl = models.DecimalField("realized P&L", **MONEY, null=True, blank=True)
    # The client's own id for the order: a retry with the same id returns this fill instead of trading again.
    # NULL, not "", is "none" (DJ001): the unique constraint below skips NULLs, and a change would need a migration.
    client_order_id = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001

    class Meta:
        db_table = "trades"
        ordering = ["-executed_at"]
        indexes = [models.Index(fields=["user_id", "executed_at"], name="trades_user_time")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
            models.UniqueConstraint(
                fields=["user_id", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="trade_client_order_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.ticker} @ {self.price}"

    @property
    def notional(self) -> Decimal:
        """The cash that moved: a buy's cost rounded up, a sell's proceeds rounded down."""
        amount = self.quantity * self.price
        return cost_of(amount) if self.side == self.Side.BUY else proceeds_of(amount)


class Order(models.Model):
    """An order: a market order as it filled, or one that waits for a price (limit, stop, stop-limit).

    Names and statuses follow a broker's order API (Alpaca's), so a trader's scripts feel at home. A resting order
    (`new`) holds a reservation: a buy its cash (`reserved_cash`), a sell its shares (`qty`), so what it needs is
    there when it fills (portfolio.orders). The price worker matches resting orders at every tick through
    `watch_price` and `acts_at_or_below`, indexed by ticker, so a tick reads only the orders its prices reach.
    Every fill is one trade (`trade_id`), made by the same engine as a market order: orders fill whole or not at all.
    """

    class Type(models.TextChoices):
        MARKET = "market"
        LIMIT = "limit"
        STOP = "stop"
        STOP_LIMIT = "stop_limit"

    class TimeInForce(models.TextChoices):
        DAY = "day"
        GTC = "gtc"

    class Status(models.TextChoices):
        NEW = "new"  # resting: waits for its price
        FILLED = "filled"
        CANCELED = "canceled"
        EXPIRED = "expired"
        REJECTED = "rejected"  # its price came, but the book could not take the fill (the reason says why)

    OPEN = (Status.NEW,)

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    ticker = models.CharField(max_length=12)
    side = models.CharField(max_length=4, choices=Trade.Side.choices)
    qty = models.DecimalField(**QUANTITY)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.MARKET)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.DAY)
    limit_price = models.DecimalField(**PRICE, null=True, blank=True)
    stop_price = models.DecimalField(**PRICE, null=True, blank=True)
    # NULL, not "", is "none" here and in trade_id (DJ001): the unique constraint below skips NULLs, and a change
    # would need a migration.
    client_order_id = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(default=timezone.now)
    # A stop's (or stop-limit's) price was reached: a stop filled at that tick, a stop-limit rests as its limit.
    triggered_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    # A `day` order expires at the session's end (portfolio.orders.session_end); a `gtc` one never does.
    expires_at = models.DateTimeField(null=True, blank=True)
    filled_qty = models.DecimalField(**QUANTITY, default=Decimal(0))
    filled_avg_price = models.DecimalField(**PRICE, null=True, blank=True)
    trade_id = models.CharField(max_length=36, null=True, blank=True)  # noqa: DJ001 (see client_order_id)
    # While resting, a buy holds this much of the cash (its worst cost, portfolio.orders.reservation); 0 otherwise.
    reserved_cash = models.DecimalField(**MONEY, default=Decimal(0))
    # Where the price worker looks for it while it rests: it acts when the price is at or below watch_price
    # (a buy limit, a sell stop) or at or above it (a sell limit, a buy stop).
    watch_price = models.DecimalField(**PRICE, null=True, blank=True)
    acts_at_or_below = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        db_table = "orders"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user_id", "created_at"], name="orders_user_time"),
            # The matcher's: one range per ticker and direction, over resting orders only.
            models.Index(
                fields=["ticker", "acts_at_or_below", "watch_price"], name="orders_resting_watch",
                condition=Q(status="new"),
            ),
            # What the book holds back (buying power), and the expiry sweep: resting orders only, a small index.
            models.Index(fields=["user_id"], name="orders_resting_user", condition=Q(status="new")),
            models.Index(fields=["expires_at"], name="orders_resting_expiry", condition=Q(status="new")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="order_qty_positive"),
            models.CheckConstraint(condition=Q(filled_qty__gte=0), name="order_filled_qty_not_negative"),
            models.CheckConstraint(condition=Q(reserved_cash__gte=0), name="order_reserved_cash_not_negative"),
            models.CheckConstraint(
                condition=Q(limit_price__isnull=True) | Q(limit_price__gt=0), name="order_limit_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(stop_price__isnull=True) | Q(stop_price__gt=0), name="order_stop_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["new", "filled", "canceled", "expired", "rejected"]),
                name="order_status_known",
            ),
            # A resting order can be found by the matcher; a closed one holds nothing back.
            models.CheckConstraint(
                condition=~Q(status="new") | Q(watch_price__isnull=False), name="order_resting_is_watched"
            ),
            models.CheckConstraint(
                condition=Q(status="new") | Q(reserved_cash=0), name="order_closed_reserves_nothing"
            ),
            models.UniqueConstraint(
                fields=["user_id", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_client_order_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.side} {self.qty} {self.ticker} ({self.status})"


class PortfolioSnapshot(models.Model):
    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    total_value = models.DecimalField(**MONEY)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "portfolio_snapshots"
        ordering = ["recorded_at"]
        indexes = [models.Index(fields=["user_id", "recorded_at"], name="snapshots_user_time")]

    def __str__(self) -> str:
        return f"{self.total_value} at {self.recorded_at:%Y-%m-%d %H:%M:%S}"
