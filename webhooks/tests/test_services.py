"""webhooks: which URLs are refused (SSRF), the outbox written in the event's transaction, the signature, and one
delivery try against a local receiver (delivered, retried with backoff, failed, timed out, refused at delivery)."""

from __future__ import annotations

import json
import socket
import time

import pytest
from django.db import transaction

from core.db import DEFAULT_USER
from portfolio import orders
from portfolio import services as portfolio_services
from webhooks import delivery, services
from webhooks.models import Delivery, Endpoint
from webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db


def resolving(monkeypatch, names: dict[str, list[str]]) -> None:
    """DNS as the test says: each name to its addresses (the machine may have no resolver for the real ones)."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in names[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "url, refusal",
    [
        ("http://127.0.0.1/hook", "127.0.0.1 is loopback"),
        ("http://127.8.9.10:8000/hook", "is loopback"),
        ("http://[::1]/hook", "::1 is loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "127.0.0.1 is loopback"),
        ("http://10.1.2.3/hook", "10.1.2.3 is private"),
        ("http://172.16.0.9/hook", "is private"),
        ("http://192.168.1.20/hook", "is private"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is link-local"),  # a cloud's metadata service
        ("http://[fe80::1]/hook", "is link-local"),
        ("http://0.0.0.0/hook", "0.0.0.0 is unspecified"),
        ("http://100.64.0.1/hook", "not public"),  # carrier-grade NAT
        ("http://localhost:9/hook", "host localhost resolves to an address that is loopback"),
        ("http://internal.example/hook", "internal.example resolves to an address that is private"),
        ("http://mixed.example/hook", "mixed.example resolves to an address that is private"),
        ("ftp://93.184.216.34/hook", "must start with https://"),
        ("https://user:pw@93.184.216.34/hook", "must not carry a user name"),
        ("https://nowhere.invalid/hook", "does not resolve"),
        ("not a url", "must start with https://"),
        ("", "Give the webhook's URL"),
        ("https://93.184.216.34:99999/hook", "That is not a URL"),
    ],
)
def test_a_url_a_webhook_may_not_reach_is_refused(monkeypatch, settings, url, refusal):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    resolving(monkeypatch, {"internal.example": ["10.0.0.5"], "mixed.example": ["93.184.216.34", "10.0.0.6"],
                            "localhost": ["127.0.0.1"]})
    with pytest.raises(services.WebhookError, match=refusal):
        services.set_endpoint(user_id=DEFAULT_USER, url=url)
    assert not Endpoint.objects.exists()


def test_public_urls_are_taken_and_private_ones_only_when_allowed(monkeypatch, settings):
    resolving(monkeypatch, {"hooks.example": ["93.184.216.34"], "internal.example": ["10.0.0.5"]})
    settings.WEBHOOK_ALLOW_PRIVATE = False
    endpoint = services.set_endpoint(user_id=DEFAULT_USER, url="https://hooks.example/finally")
    assert endpoint.url == "https://hooks.example/finally" and len(endpoint.secret) == 64
    changed = services.set_endpoint(user_id=DEFAULT_USER, url="https://93.184.216.34/other")
    assert changed.pk == endpoint.pk and changed.secret == endpoint.secret  # a changed URL keeps its secret
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert services.set_endpoint(user_id=DEFAULT_USER, url="http://internal.example/h").url.endswith("/h")
    assert services.remove_endpoint(user_id=DEFAULT_USER) and not Endpoint.objects.exists()


def test_the_signature_verifies_and_a_tampered_or_old_one_does_not():
    body, secret, now = b'{"id":"x"}', "s" * 64, 1_800_000_000
    header = services.signature(secret, body, now)
    assert header.startswith(f"t={now},v1=")
    assert services.verify(secret, body, header, now=now + 10)
    assert not services.verify(secret, body + b" ", header, now=now)
    assert not services.verify("t" * 64, body, header, now=now)
    assert not services.verify(secret, body, header, now=now + 301)  # a replay, minutes later
    assert not services.verify(secret, body, "v1=abc", now=now)


@pytest.fixture
def endpoint(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    with Receiver() as receiver:
        services.set_endpoint(user_id=DEFAULT_USER, url=receiver.url)
        yield receiver


def test_events_go_to_the_outbox_in_their_own_transaction(endpoint, publish):
    publish({"AAPL": 190.0})
    portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=2)
    [trade] = Delivery.objects.all()
    body = json.loads(trade.payload)
    assert body["type"] == trade.event == "trade.executed" and body["id"] == trade.id
    assert body["data"]["ticker"] == "AAPL" and body["data"]["quantity"] == 2 and body["data"]["price"] == 190
    order = orders.place_order(user_id=DEFAULT_USER, ticker="AAPL", side="buy", qty="1", type="limit",
                               limit_price="100", time_in_force="gtc")
    assert Delivery.objects.count() == 1  # a resting order is no event of the webhook's
    orders.cancel_order(user_id=DEFAULT_USER, order_id=order.id)
    [canceled] = [json.loads(d.payload)["data"] for d in Delivery.objects.filter(event="order.canceled")]
    assert canceled == {"order_id": order.id, "type": "limit", "ticker": "AAPL", "side": "buy", "quantity": 1.0,
                        "limit_price": 100.0, "stop_price": None, "why": "by its owner"}
    # An event rolled back with its transaction is never in the outbox.
    with pytest.raises(RuntimeError), transaction.atomic():
        portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=1)
        raise RuntimeError("the caller's transaction fails after the trade")
    assert Delivery.objects.filter(event="trade.executed").count() == 1


def test_without_an_endpoint_nothing_is_written(publish):
    publish({"AAPL": 190.0})
    portfolio_services.execute_trade(user_id=DEFAULT_USER, ticker="AAPL", side="buy", quantity=2)
    assert not Delivery.objects.exists()


def made(event: str = "alert.fired") -> Delivery:
    return services.record(user_id=DEFAULT_USER, event=event, data={"n": 1})


def test_a_delivery_is_posted_signed_and_marked_delivered(endpoint):
    sent = made()
    [claimed] = delivery.claim()
    assert delivery.claim() == []  # leased: the next pass does not take it again
    status, error = delivery.send(claimed)
    delivery.settle(claimed, status, error)
    [request] = endpoint.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert request["body"] == sent.payload.encode()
    assert headers["x-finally-event"] == "alert.fired" and headers["x-finally-delivery"] == sent.id
    secret = Endpoint.objects.get().secret
    assert services.verify(secret, request["body"], headers["x-finally-signature"], now=time.time())
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.last_status) == ("delivered", 1, 200) and sent.delivered_at


def test_a_receiver_that_fails_or_hangs_is_tried_again_later_then_given_up(endpoint, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    endpoint.script((500, 0.0), (200, 2.0))  # an error, then an answer slower than the timeout
    sent = made()
    for expected_error, expected_wait in (("HTTP 500", 5), ("no answer within 0.5 s", 10)):
        [claimed] = delivery.claim()
        status, error = delivery.send(claimed)
        assert error == expected_error
        delivery.settle(claimed, status, error)
        sent.refresh_from_db()
        assert sent.status == "pending" and sent.last_error == expected_error
        wait = (sent.next_attempt_at - sent.created_at).total_seconds()
        assert expected_wait - 1 < wait < expected_wait + 5  # backoff: 5 s, then 10 s
        assert delivery.claim() == []  # not due yet
        Delivery.objects.filter(pk=sent.pk).update(next_attempt_at=sent.created_at)  # as if the time had passed
    [claimed] = delivery.claim()
    delivery.settle(claimed, *delivery.send(claimed))
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == ("failed", 3)  # WEBHOOK_MAX_ATTEMPTS: no more tries
    assert delivery.claim() == []


def test_an_address_refused_since_is_not_sent_to(endpoint, settings):
    made()
    settings.WEBHOOK_ALLOW_PRIVATE = False  # the receiver's address is loopback: checked again at delivery
    [claimed] = delivery.claim()
    status, error = delivery.send(claimed)
    assert status is None and "127.0.0.1 is loopback" in error
    assert endpoint.requests == []


def test_backoff_doubles_to_an_hour():
    assert [delivery.backoff(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert delivery.backoff(30) == 3600


@pytest.mark.parametrize(
    "url, refusal",
    [
        ("http://[2002:7f00:1::1]/hook", "127.0.0.1 is loopback"),  # 6to4 carrying a loopback address
        ("http://[2002:a00:1::1]/hook", "10.0.0.1 is private"),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "tunnel"),  # Teredo
        ("http://[fec0::1]/hook", "site-local"),
    ],
)
def test_ipv6_forms_that_carry_another_address_are_judged_by_it(settings, url, refusal):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(services.WebhookError, match=refusal):
        services.clean_url(url)


def test_an_international_name_is_looked_up_and_sent_as_idna(monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with Receiver() as receiver:
        port = receiver.server.server_port
        resolving(monkeypatch, {"xn--bcher-kva.example": ["127.0.0.1"]})
        services.set_endpoint(user_id=DEFAULT_USER, url=f"http://bücher.example:{port}/hook")
        made()
        [claimed] = delivery.claim()
        assert delivery.send(claimed) == (200, "")
        assert {k.lower(): v for k, v in receiver.requests[0]["headers"].items()}["host"] == (
            f"xn--bcher-kva.example:{port}")


class DripReceiver:
    """A receiver that answers one byte every `every` seconds (or, with `endless`, a status line and then a body
    without end): what a hostile or broken one does."""

    def __init__(self, *, every: float = 0.3, endless: bool = False) -> None:
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.every, self.endless, self.stop = every, endless, threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.recv(65536)
        try:
            if self.endless:
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                while not self.stop.is_set():
                    conn.sendall(b"10000\r\n" + b"x" * 65536 + b"\r\n")
            else:
                for byte in b"HTTP/1.1 200 OK\r\n":
                    if self.stop.wait(self.every):
                        break
                    conn.sendall(bytes([byte]))
        except OSError:
            pass
        finally:
            conn.close()


@pytest.mark.parametrize("endless", [False, True], ids=["drips its status line", "sends a body without end"])
def test_a_hostile_receiver_holds_a_sender_no_longer_than_the_timeout(settings, endless):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    receiver = DripReceiver(endless=endless)
    try:
        services.set_endpoint(user_id=DEFAULT_USER, url=receiver.url)
        made()
        [claimed] = delivery.claim()
        started = time.monotonic()
        status, error = delivery.send(claimed)
        took = time.monotonic() - started
    finally:
        receiver.stop.set()
    if endless:
        assert (status, error) == (200, "")  # the status line is all that is read
    else:
        assert (status, error) == (None, "no answer within 1 s")
    assert took < 3  # bounded by the timeout (1 s), with room for a loaded machine


def test_one_try_at_a_time_per_endpoint_and_a_failure_holds_back_its_queue(endpoint):
    first, second = made(), made()
    assert delivery.claim(busy={Endpoint.objects.get().pk}) == []  # its endpoint has a try under way
    endpoint.script((503, 0.0))
    [claimed] = delivery.claim()
    delivery.settle(claimed, *delivery.send(claimed))
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.attempts == 1 and second.attempts == 0
    assert second.next_attempt_at >= first.next_attempt_at  # the dead receiver's queue waits with it
    assert delivery.claim() == []


def test_a_row_taken_over_is_not_settled_by_the_late_try(endpoint):
    made()
    [late] = delivery.claim()
    Delivery.objects.filter(pk=late.pk).update(status="delivered")  # another try finished it meanwhile
    delivery.settle(late, None, "HTTP 500")
    assert Delivery.objects.get().status == "delivered"


def test_old_deliveries_are_pruned(endpoint, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.WEBHOOK_KEEP_DAYS = 30
    old, recent, pending = made(), made(), made()
    long_ago = timezone.now() - timedelta(days=31)
    Delivery.objects.filter(pk__in=[old.pk, recent.pk]).update(status="delivered")
    Delivery.objects.filter(pk__in=[old.pk, pending.pk]).update(created_at=long_ago)
    assert delivery.prune() == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
