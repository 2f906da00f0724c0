"""The worker's webhook deliveries: due outbox rows sent on threads of their own, with retries and backoff.

One thread claims what is due, one row each time a sender is free (its next try moved past the time a send may
take, so a row is never sent twice at once), and WEBHOOK_DELIVERY_THREADS send them: a receiver that hangs holds
one sender for at most WEBHOOK_TIMEOUT_SECONDS, never the others, never the worker's ticks, and never an order (the
web processes make those and only write the outbox row). A 2xx is delivered; anything else (an error status, a
timeout, a refused connection, an address that is no longer allowed) is tried again after 5 s, 10 s, 20 s … (at
most an hour), and after WEBHOOK_MAX_ATTEMPTS tries the row is failed, with its last error kept.

A worker stopped between a send and its record sends that delivery again when it is back: at least once, with the
same delivery id (`id` in the body, `X-Finally-Delivery`), which a receiver uses to drop a repeat.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from core import metrics
from webhooks import services
from webhooks.models import Delivery

logger = logging.getLogger(__name__)

IDLE_SECONDS = 0.5
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 3600.0
USER_AGENT = "FinAlly-Webhooks/1"


def backoff(attempts: int) -> float:
    """Seconds before try number attempts + 1: 5, 10, 20, … at most an hour."""
    return min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


def claim(limit: int = 1) -> list[Delivery]:
    """The due deliveries, each leased for longer than one send may take (httpx's timeout bounds the connect,
    the write and the read each): another pass does not take them again meanwhile."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 4 + 5)
    with transaction.atomic():
        due = list(Delivery.objects.select_related("endpoint").filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")[:limit])
        if due:
            Delivery.objects.filter(pk__in=[d.pk for d in due]).update(next_attempt_at=lease)
    return due


def send(delivery: Delivery) -> tuple[int | None, str]:
    """One try: the receiver's status (None if there was no answer) and what went wrong ("" for a 2xx)."""
    url = delivery.endpoint.url
    parts = urlsplit(url)
    try:
        address = services.resolve(url)[0]  # checked again: a name may resolve elsewhere than when it was set
    except services.WebhookError as exc:
        return None, str(exc)
    # To the checked address, not to a second lookup's (DNS rebinding); the name goes in Host, and in TLS's SNI
    # and certificate check.
    host = f"[{address}]" if ":" in address else address
    netloc = host + (f":{parts.port}" if parts.port else "")
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    body = delivery.payload.encode()
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Finally-Event": delivery.event,
        "X-Finally-Delivery": delivery.id,
        "X-Finally-Signature": services.signature(delivery.endpoint.secret, body, int(time.time())),
    }
    try:
        with httpx.Client(timeout=settings.WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
            response = client.post(target, content=body, headers=headers,
                                   extensions={"sni_hostname": parts.hostname})
    except httpx.TimeoutException:
        return None, f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


def settle(delivery: Delivery, status: int | None, error: str) -> None:
    attempts = delivery.attempts + 1
    now = timezone.now()
    if not error:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=Delivery.Status.DELIVERED, attempts=attempts, last_status=status, last_error="", delivered_at=now)
        metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
        logger.info("webhook %s %s delivered (try %d)", delivery.event, delivery.id, attempts,
                    extra={"delivery_id": delivery.id, "event": "webhook.delivered"})
        return
    failed = attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED if failed else Delivery.Status.PENDING, attempts=attempts, last_status=status,
        last_error=error[:300], next_attempt_at=now + timedelta(seconds=backoff(attempts)))
    metrics.WEBHOOK_DELIVERIES.labels("failed" if failed else "retry").inc()
    logger.warning("webhook %s %s try %d failed%s: %s", delivery.event, delivery.id, attempts,
                   ", giving up" if failed else f", next in {backoff(attempts):.0f} s", error,
                   extra={"delivery_id": delivery.id, "event": "webhook.failed" if failed else "webhook.retry"})


class Deliverer:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._senders = ThreadPoolExecutor(max_workers=settings.WEBHOOK_DELIVERY_THREADS,
                                           thread_name_prefix="webhook-send")
        self._free = threading.Semaphore(settings.WEBHOOK_DELIVERY_THREADS)  # senders not busy
        self._thread = threading.Thread(target=self._run, name="webhook-claim", daemon=True)

    def start(self) -> Deliverer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._senders.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            # A row is claimed only when a sender is free to send it at once: its lease then covers its send.
            if not self._free.acquire(timeout=IDLE_SECONDS):
                continue
            try:
                due = claim(limit=1)
            except DatabaseError:
                logger.warning("webhooks: could not read the outbox; trying again", exc_info=True)
                due = None
            finally:
                close_old_connections()
            if not due:
                self._free.release()
                self._stop.wait(IDLE_SECONDS if due is not None else 5)
                continue
            self._senders.submit(self._deliver, due[0])

    def _deliver(self, delivery: Delivery) -> None:
        try:
            status, error = send(delivery)
            settle(delivery, status, error)
        except Exception:  # one delivery's failure is never the thread's end
            logger.exception("webhook %s could not be settled", delivery.id)
        finally:
            close_old_connections()
            self._free.release()


def start() -> Deliverer:
    return Deliverer().start()
