"""Reading alerts: a book's, and the tickers the worker keeps priced for them."""

from __future__ import annotations

from datetime import timedelta

from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.exceptions import NoSuchAlert
from alerts.models import Alert

STATUSES = {"active": [Alert.Status.ACTIVE], "history": [Alert.Status.FIRED, Alert.Status.CANCELED],
            "all": list(Alert.Status.values)}


def alerts(*, user_id: str, status: str = "all", limit: int = 100) -> list[Alert]:
    """Newest first: the active ones, the history (fired and canceled, by when that happened), or all."""
    found = Alert.objects.filter(user_id=user_id, status__in=STATUSES[status])
    if status == "history":
        found = found.annotate(ended_at=Coalesce("fired_at", "canceled_at")).order_by("-ended_at", "-created_at")
    else:
        found = found.order_by("-created_at")
    return list(found[:limit])


def alert_tickers(*, user_id: str | None = None) -> set[str]:
    """Every ticker this user (or, when None, any user) has an active alert on: the worker keeps it priced, or the
    alert could never fire, so the watchlist's cap counts it as it counts a held one."""
    active = Alert.objects.filter(status=Alert.Status.ACTIVE)
    if user_id is not None:
        active = active.filter(user_id=user_id)
    return set(active.order_by().values_list("ticker", flat=True).distinct())


def recently_fired(*, user_id: str, seconds: float) -> list[Alert]:
    """The alerts that fired in the last `seconds`, newest first: what the page tells with a toast."""
    since = timezone.now() - timedelta(seconds=seconds)
    return list(Alert.objects.filter(user_id=user_id, status=Alert.Status.FIRED, fired_at__gte=since)
                .order_by("-fired_at")[:20])


def active_alert_id(*, user_id: str, given: str) -> str:
    """The id of the book's one active alert that `given` names, whole or by its short form (its end, as the page
    shows it); NoSuchAlert if none does or more than one do (a short form is never guessed at)."""
    given = given.strip().lower()
    if len(given) < 4:
        raise NoSuchAlert(f"No active alert has the id {given!r}: give the id as listed.")
    found = list(Alert.objects.filter(user_id=user_id, status=Alert.Status.ACTIVE, id__endswith=given)
                 .values_list("id", flat=True)[:2])
    if len(found) != 1:
        raise NoSuchAlert(f"No active alert has the id {given}." if not found else
                          f"More than one active alert ends in {given}: give more of the id.")
    return found[0]
