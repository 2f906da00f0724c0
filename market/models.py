from django.db import models
from django.utils import timezone

from core.db import DEFAULT_USER, new_id


class WatchlistEntry(models.Model):
    """A ticker the user follows; the price worker prices exactly these plus the held ones."""

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER, db_index=True)
    ticker = models.CharField(max_length=12)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "watchlist"
        ordering = ["added_at", "ticker"]
        verbose_name = "watchlist entry"
        verbose_name_plural = "watchlist"
        constraints = [
            models.UniqueConstraint(fields=["user_id", "ticker"], name="watchlist_user_ticker_unique"),
        ]

    def __str__(self) -> str:
        return self.ticker


class PriceBar(models.Model):
    """One ticker's prices over one minute, open, high, low and close, as the price worker saw them (market.bars):
    the chart's timeframes are built from these. Market data, the same for every user."""

    pk = models.CompositePrimaryKey("ticker", "minute")
    ticker = models.CharField(max_length=12)
    minute = models.DateTimeField(help_text="The minute's start, UTC")
    open = models.FloatField()
    high = models.FloatField()
    low = models.FloatField()
    close = models.FloatField()

    class Meta:
        db_table = "price_bars"
        indexes = [models.Index(fields=["minute"], name="price_bars_minute")]  # the pruning's range

    def __str__(self) -> str:
        return f"{self.ticker} {self.minute:%Y-%m-%d %H:%M}"
