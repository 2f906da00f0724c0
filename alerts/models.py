from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.db import DEFAULT_USER, new_id

PRICE = {"max_digits": 14, "decimal_places": 4}  # as an order's limit (portfolio.models.PRICE)


class Alert(models.Model):
    """A level on a ticker the user wants to hear of: `above` fires when the live price is at or above it, `below`
    at or below. It fires once (status `fired`, with the price and time), and stays as history."""

    class Condition(models.TextChoices):
        ABOVE = "above"
        BELOW = "below"

    class Status(models.TextChoices):
        ACTIVE = "active"
        FIRED = "fired"
        CANCELED = "canceled"

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    ticker = models.CharField(max_length=12)
    condition = models.CharField(max_length=5, choices=Condition.choices)
    price = models.DecimalField(**PRICE)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    fired_price = models.DecimalField(**PRICE, null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "alerts"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user_id", "created_at"], name="alerts_user_time"),
            # The worker's: one range per ticker and condition, over active alerts only (as resting orders').
            models.Index(fields=["ticker", "condition", "price"], name="alerts_active_watch",
                         condition=Q(status="active")),
            models.Index(fields=["user_id"], name="alerts_active_user", condition=Q(status="active")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=Decimal(0)), name="alert_price_positive"),
            models.CheckConstraint(condition=Q(condition__in=["above", "below"]), name="alert_condition_known"),
            models.CheckConstraint(condition=Q(status__in=["active", "fired", "canceled"]), name="alert_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.ticker} {self.condition} {self.price.normalize():f}"
