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
    client_order_id = models.CharField(max_length=64, null=True, blank=True, editable=False)

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
