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
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from core import metrics
from webhooks import services
from webhooks.models import Delivery

logger = logging.getLogger(__name__)

IDLE_SECONDS = 0.5
LEASE_MARGIN_SECONDS = 30.0  # past a try's own bound: a try is over long before its lease is
MAX_STATUS_LINE = 8192
TLS = ssl.create_default_context()
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 3600.0
USER_AGENT = "FinAlly-Webhooks/1"


def backoff(attempts: int) -> float:
    """Seconds before try number attempts + 1: 5, 10, 20, … at most an hour."""
    return min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)


def claim(limit: int = 1, *, busy: set[str] = frozenset()) -> list[Delivery]:
    """The due deliveries (none of an endpoint in `busy`: one send at a time per receiver, so one that is dead
    holds one sender, not all), each leased past the longest a send can take (WEBHOOK_TIMEOUT_SECONDS, for the whole
    try) so that no other pass takes it meanwhile; `delivery.lease` says until when."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    with transaction.atomic():
        due = list(Delivery.objects.select_related("endpoint").filter(
            status=Delivery.Status.PENDING, next_attempt_at__lte=now).exclude(endpoint_id__in=busy)
            .order_by("next_attempt_at")[:limit])
        taken = []
        for delivery in due:
            # Only if still due: what another pass claimed meanwhile is left to it.
            if Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                                       next_attempt_at=delivery.next_attempt_at).update(next_attempt_at=lease):
                delivery.lease = lease
                taken.append(delivery)
    return taken


def send(delivery: Delivery) -> tuple[int | None, str]:
    """One try: the receiver's status (None if there was no answer) and what went wrong ("" for a 2xx).

    Written on the socket, not through an HTTP client, for what a webhook needs and no more: to the address that
    was checked (a name is looked up and checked again here, and the connection goes to that address, not to a
    second lookup's), the whole try bounded by WEBHOOK_TIMEOUT_SECONDS however slowly the receiver drips, and only
    its status line read (at most MAX_STATUS_LINE bytes): a receiver cannot make the worker hold a sender for long,
    or read an endless body."""
    url = delivery.endpoint.url
    parts = urlsplit(url)
    try:
        addresses = services.resolve(url)
        host = services.ascii_host(parts.hostname)
    except services.WebhookError as exc:
        return None, str(exc)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    body = delivery.payload.encode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and parts.port is not None:  # an IPv6 literal keeps its brackets before a port
        host_header = f"[{host}]:{parts.port}"
    head = "\r\n".join([
        f"POST {path} HTTP/1.1", f"Host: {host_header}", "Content-Type: application/json",
        f"Content-Length: {len(body)}", f"User-Agent: {USER_AGENT}", "Connection: close",
        f"X-Finally-Event: {delivery.event}", f"X-Finally-Delivery: {delivery.id}",
        f"X-Finally-Signature: {services.signature(delivery.endpoint.secret, body, int(time.time()))}", "", "",
    ]).encode()
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT_SECONDS
    error = "no address"
    for address in addresses:  # in the resolver's order: the next one if one cannot be reached
        left = deadline - time.monotonic()
        if left <= 0:
            return None, f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
        try:
            sock = socket.create_connection((address, port), timeout=left)
        except TimeoutError:
            return None, f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
        except OSError as exc:
            error = f"could not connect to {address}: {exc.strerror or exc}"
            continue
        try:
            if parts.scheme == "https":
                sock = TLS.wrap_socket(sock, server_hostname=host)  # the name's certificate, the name's SNI
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(head + body)
            return _status(sock, deadline)
        except TimeoutError:
            return None, f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
        except (OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]
        finally:
            sock.close()
    return None, error[:300]


def _status(sock: socket.socket, deadline: float) -> tuple[int | None, str]:
    line = b""
    while b"\r\n" not in line and len(line) < MAX_STATUS_LINE:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(MAX_STATUS_LINE - len(line))
        if not chunk:
            break
        line += chunk
    fields = line.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        return None, "the receiver's answer was not HTTP"
    status = int(fields[1])
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"


def settle(delivery: Delivery, status: int | None, error: str) -> None:
    """The try's outcome, if the row is still this try's (its lease): a row taken over meanwhile is left as is.
    A failure also holds back the endpoint's other due deliveries until the same time: a dead receiver gets one
    try per backoff, not one per event."""
    attempts = delivery.attempts + 1
    now = timezone.now()
    mine = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                                   next_attempt_at=getattr(delivery, "lease", delivery.next_attempt_at))
    if not error:
        mine.update(status=Delivery.Status.DELIVERED, attempts=attempts, last_status=status, last_error="",
                    delivered_at=now)
        metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
        logger.info("webhook %s %s delivered (try %d)", delivery.event, delivery.id, attempts,
                    extra={"delivery_id": delivery.id, "event": "webhook.delivered"})
        return
    failed = attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    retry_at = now + timedelta(seconds=backoff(attempts))
    with transaction.atomic():
        mine.update(status=Delivery.Status.FAILED if failed else Delivery.Status.PENDING, attempts=attempts,
                    last_status=status, last_error=error[:300], next_attempt_at=retry_at)
        Delivery.objects.filter(endpoint_id=delivery.endpoint_id, status=Delivery.Status.PENDING,
                                next_attempt_at__lt=retry_at).exclude(pk=delivery.pk).update(next_attempt_at=retry_at)
    metrics.WEBHOOK_DELIVERIES.labels("failed" if failed else "retry").inc()
    logger.warning("webhook %s %s try %d failed%s: %s", delivery.event, delivery.id, attempts,
                   ", giving up" if failed else f", next in {backoff(attempts):.0f} s", error,
                   extra={"delivery_id": delivery.id, "event": "webhook.failed" if failed else "webhook.retry"})


def prune() -> int:
    """The worker's periodic task: deliveries delivered or failed more than WEBHOOK_KEEP_DAYS ago go."""
    before = timezone.now() - timedelta(days=settings.WEBHOOK_KEEP_DAYS)
    deleted, _ = Delivery.objects.filter(status__in=[Delivery.Status.DELIVERED, Delivery.Status.FAILED],
                                         created_at__lt=before).delete()
    return deleted


class Deliverer:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._senders = ThreadPoolExecutor(max_workers=settings.WEBHOOK_DELIVERY_THREADS,
                                           thread_name_prefix="webhook-send")
        self._free = threading.Semaphore(settings.WEBHOOK_DELIVERY_THREADS)  # senders not busy
        self._busy: set[str] = set()  # endpoints with a try under way: one at a time each
        self._lock = threading.Lock()
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
                with self._lock:
                    busy = set(self._busy)
                due = claim(limit=1, busy=busy)
            except DatabaseError:
                logger.warning("webhooks: could not read the outbox; trying again", exc_info=True)
                due = None
            finally:
                close_old_connections()
            if not due:
                self._free.release()
                self._stop.wait(IDLE_SECONDS if due is not None else 5)
                continue
            with self._lock:
                self._busy.add(due[0].endpoint_id)
            self._senders.submit(self._deliver, due[0])

    def _deliver(self, delivery: Delivery) -> None:
        try:
            try:
                status, error = send(delivery)
            except Exception as exc:  # a fault of ours, not the receiver's: a try all the same, retried later
                logger.exception("webhook %s could not be sent", delivery.id)
                status, error = None, f"could not be sent ({type(exc).__name__})"
            settle(delivery, status, error)
        except Exception:  # one delivery's failure is never the thread's end
            logger.exception("webhook %s could not be settled", delivery.id)
        finally:
            close_old_connections()
            with self._lock:
                self._busy.discard(delivery.endpoint_id)
            self._free.release()


def start() -> Deliverer:
    return Deliverer().start()
