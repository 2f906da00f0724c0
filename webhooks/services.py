"""A book's webhook: its URL (checked against SSRF), the outbox an event is written to in its own transaction, and
the signature every delivery carries.

Events: `trade.executed` (every fill: the trade confirmation), `order.filled` (a resting order the worker filled),
`order.canceled` and `alert.fired`. The body is JSON: `{"id", "type", "created_at", "data"}`; `id` is the
delivery's, the same on every retry of it, so a receiver can drop a repeat.

The signature (`X-Finally-Signature: t=<unix seconds>,v1=<hex>`) is HMAC-SHA256 with the endpoint's secret over
`<t>.<body>`: a receiver recomputes it and refuses a `t` more than a few minutes from its clock (a replay).

SSRF: a URL whose host is, or resolves to, a loopback, private, link-local, multicast, reserved or unspecified
address is refused unless WEBHOOK_ALLOW_PRIVATE=true: when it is set, and again at each delivery (a name may resolve
elsewhere by then), and the delivery connects to the address that was checked, not to a second lookup's.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from market import hooks
from webhooks.models import Delivery, Endpoint

EVENTS = ("trade.executed", "order.filled", "order.canceled", "alert.fired")
MAX_URL_LENGTH = 500


class WebhookError(Exception):
    """A URL that cannot be a webhook's; the message says why, fit to show."""


def check_address(address: str, *, name: str | None = None) -> None:
    """Refuse an address a webhook may not reach (SSRF), unless WEBHOOK_ALLOW_PRIVATE. For a host given by `name`,
    the refusal names the name, not the address it resolved to (an internal network's addresses are not the
    user's to learn)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6:
        # IPv6 forms that carry an IPv4 address reach that address: judged by it.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    if ip.version == 6 and (ip.teredo or ip.is_site_local):
        raise WebhookError(f"The webhook's {_where(ip, name)} is a tunnel or site-local address: only public "
                           "addresses are allowed.")
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local else "unspecified"
                if ip.is_unspecified else "private" if ip.is_private else "not public")
        raise WebhookError(f"The webhook's {_where(ip, name)} is {kind}: only public addresses are allowed "
                           "(WEBHOOK_ALLOW_PRIVATE=true allows others).")


def _where(ip, name: str | None) -> str:
    return f"host {name} resolves to an address that" if name else f"address {ip}"


# Name lookups on threads of their own, so that one can be given up on: getaddrinfo has no timeout of its own, and a
# stalled name server must hold up neither a request nor a delivery for long.
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")
LOOKUP_SECONDS = 5.0


def resolve(url: str) -> list[str]:
    """The addresses `url`'s host stands for, in the resolver's order (the one to try first, first), each checked:
    all of them, so a name with one private address among public ones is refused."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        lookup = _lookups.submit(socket.getaddrinfo, ascii_host(host), port, type=socket.SOCK_STREAM)
        try:
            found = lookup.result(timeout=LOOKUP_SECONDS)
        except FutureTimeout:
            raise WebhookError(f"The webhook's host {host} did not resolve within {LOOKUP_SECONDS:g} s.") from None
        except (OSError, UnicodeError) as exc:
            raise WebhookError(f"The webhook's host {host} does not resolve ({exc}).") from None
        addresses = list(dict.fromkeys(info[4][0] for info in found))
    given_by_name = addresses != [host]
    for address in addresses:
        check_address(address, name=host if given_by_name else None)
    return addresses


def ascii_host(host: str) -> str:
    """A host name as it goes on the wire (IDNA: bücher.example is xn--bcher-kva.example)."""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise WebhookError(f"The webhook's host {host!r} is not a name that can be looked up.") from None


def clean_url(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise WebhookError("Give the webhook's URL, such as https://example.com/finally.")
    url = raw.strip()
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise WebhookError("That is not a URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("The URL must start with https:// (or http://) and name a host.")
    if parts.username or parts.password:
        raise WebhookError("The URL must not carry a user name or password: the signature authenticates us.")
    ascii_host(parts.hostname)
    resolve(url)
    return url


def set_endpoint(*, user_id: str, url: object) -> Endpoint:
    """The book's webhook URL, new or changed; a new one gets a new secret (a changed URL keeps its secret). The URL
    is checked (its name looked up) before the transaction: on SQLite a write transaction holds the database's one
    write lock, and no order may wait on someone's name server."""
    url = clean_url(url)
    with transaction.atomic():
        _lock_book(user_id)
        endpoint = Endpoint.objects.filter(user_id=user_id).first()
        if endpoint is None:
            return Endpoint.objects.create(user_id=user_id, url=url, secret=secrets.token_hex(32))
        endpoint.url = url
        endpoint.save(update_fields=["url"])
        return endpoint


def remove_endpoint(*, user_id: str) -> bool:
    """No more deliveries to this book (those not yet sent go with it). Under the book's lock, as a fill or an
    alert writes its outbox row: a removal never lands between a fill's read of the endpoint and its row (which
    would fail that fill's commit on PostgreSQL, and the other fills of its batch with it)."""
    with transaction.atomic():
        _lock_book(user_id)
        deleted, _ = Endpoint.objects.filter(user_id=user_id).delete()
    return bool(deleted)


def _lock_book(user_id: str) -> None:
    for lock in hooks.owner_locks:  # portfolio's: the book's row, which every trade takes first
        lock(user_id=user_id)


def record(
    *, user_id: str, event: str, data: dict, at: datetime | None = None, endpoint_id: str | None = None
) -> Delivery | None:
    """The event into the outbox of the book's endpoint (`endpoint_id` when the caller has read it), in the
    caller's transaction; None when the book has none. Nothing is sent here: the worker sends it, so an order never
    waits on a receiver."""
    if endpoint_id is None:
        endpoint_id = Endpoint.objects.filter(user_id=user_id).values_list("id", flat=True).first()
    if endpoint_id is None:
        return None
    delivery = Delivery(user_id=user_id, endpoint_id=endpoint_id, event=event)
    when = at or timezone.now()
    delivery.payload = json.dumps(
        {"id": delivery.id, "type": event, "created_at": when.isoformat(timespec="milliseconds"), "data": data},
        separators=(",", ":"), default=str,
    )
    delivery.created_at = delivery.next_attempt_at = when
    delivery.save(force_insert=True)
    return delivery


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (the README shows it; the tests use it): the signature matches, and is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, body, timestamp), f"t={timestamp},v1={fields.get('v1', '')}")
