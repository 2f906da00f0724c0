from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.db import DEFAULT_USER, new_id


class Endpoint(models.Model):
    """Where a book's events go: one URL per book (per account; the deployment's with ACCOUNTS=off), and the secret
    each delivery is signed with."""

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER, unique=True)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "webhook_endpoints"

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event for one endpoint: the outbox row, written in the event's own transaction (so an event that was
    rolled back is never sent, and one that committed always is), then delivered by the worker with retries."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its first try, or for the next after a failure
        DELIVERED = "delivered"  # the receiver answered 2xx
        FAILED = "failed"  # every try failed; kept, with the last error

    id = models.CharField(primary_key=True, max_length=36, default=new_id, editable=False)
    user_id = models.CharField(max_length=64, default=DEFAULT_USER)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    payload = models.TextField()  # the JSON body, exactly as signed and sent
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["user_id", "created_at"], name="webhook_deliveries_user_time"),
            # The deliverer's: what is due, pending ones only.
            models.Index(fields=["next_attempt_at"], name="webhook_deliveries_due", condition=Q(status="pending")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["pending", "delivered", "failed"]),
                                   name="webhook_delivery_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.id}"
