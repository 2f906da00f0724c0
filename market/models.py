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
