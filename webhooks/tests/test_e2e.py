"""Webhooks end to end on real processes: the URL set on the settings page, a trade, a cancel and a fired alert each
reach a local receiver once, signed; a receiver that hangs is retried and holds up no order."""

from __future__ import annotations

import re
import statistics
import time

import httpx
import pytest

from webhooks import services


def set_url(stack, url: str) -> httpx.Response:
    """As a person does it: the settings page, its form and its CSRF token."""
    with httpx.Client(base_url=stack.base_url, timeout=10) as browser:
        page = browser.get("/settings/webhooks")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return browser.post("/settings/webhooks", data={"url": url, "csrfmiddlewaretoken": token},
                            headers={"Referer": stack.base_url + "/settings/webhooks"})


def secret_of(stack) -> str:
    page = httpx.get(stack.base_url + "/settings/webhooks", timeout=10).text
    return re.search(r'<code id="hook-secret">([0-9a-f]{64})</code>', page).group(1)


def buy(stack, quantity: int = 1) -> float:
    started = time.perf_counter()
    answer = httpx.post(stack.base_url + "/api/portfolio/trade", json={"ticker": "AAPL", "side": "buy",
                                                                      "quantity": quantity}, timeout=10)
    assert answer.status_code == 201, answer.text
    return time.perf_counter() - started


@pytest.mark.e2e
def test_each_event_reaches_the_receiver_once_signed(stack_factory):
    from webhooks.tests.receiver import Receiver

    with Receiver() as receiver:
        stack = stack_factory(WEBHOOK_ALLOW_PRIVATE="true")
        stack.start_worker()
        stack.start_web()
        stack.wait_for_prices()
        assert set_url(stack, receiver.url).status_code == 302
        secret = secret_of(stack)

        buy(stack, 2)
        resting = httpx.post(stack.base_url + "/api/orders", json={"ticker": "AAPL", "side": "buy", "qty": 1,
                                                                   "type": "limit", "limit_price": 1,
                                                                   "time_in_force": "gtc"}).json()
        assert httpx.delete(f"{stack.base_url}/api/orders/{resting['id']}").status_code == 200
        alert = httpx.post(stack.base_url + "/api/alerts", json={"ticker": "AAPL", "condition": "above",
                                                                 "price": 1}).json()  # fires at the next tick
        events = receiver.wait_for(3)
        time.sleep(1.5)  # a few more ticks: nothing is sent twice
        events = receiver.events()
    assert sorted(e["type"] for e in events) == ["alert.fired", "order.canceled", "trade.executed"]
    by_type = {e["type"]: e for e in events}
    assert by_type["trade.executed"]["data"]["quantity"] == 2
    assert by_type["order.canceled"]["data"]["order_id"] == resting["id"]
    assert by_type["alert.fired"]["data"]["alert_id"] == alert["id"]
    assert len({e["id"] for e in events}) == 3
    for request in receiver.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert services.verify(secret, request["body"], headers["x-finally-signature"], now=time.time())
        assert not services.verify(secret, request["body"] + b"x", headers["x-finally-signature"], now=time.time())
    page = httpx.get(stack.base_url + "/settings/webhooks").text
    assert page.count('data-status="delivered"') == 3


@pytest.mark.e2e
def test_a_hung_receiver_is_retried_and_holds_up_no_order(stack_factory):
    """The receiver takes the first delivery and never answers: the orders placed meanwhile are as quick as
    without a webhook (their latency is printed: `pytest -s`), and the delivery is tried again after its
    timeout."""
    from webhooks.tests.receiver import Receiver

    with Receiver() as receiver:
        stack = stack_factory(WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_TIMEOUT_SECONDS="1")
        stack.start_worker()
        stack.start_web()
        stack.wait_for_prices()
        without = [buy(stack) for _ in range(15)]
        receiver.script((200, 60.0))  # every answer held for a minute (released at the end)
        assert set_url(stack, receiver.url).status_code == 302
        buy(stack)
        receiver.wait_for(1)
        assert receiver.requests, stack.log("worker")  # a delivery is in flight, and hangs
        hung = [buy(stack) for _ in range(15)]
        deadline = time.monotonic() + 20
        while not any("no answer within 1 s" in line for line in stack.log("worker").splitlines()):
            assert time.monotonic() < deadline, stack.log("worker")
            time.sleep(0.2)
        print(f"order latency, median of 15: {statistics.median(without) * 1000:.1f} ms without a webhook, "
              f"{statistics.median(hung) * 1000:.1f} ms with its receiver hung")
        page = httpx.get(stack.base_url + "/settings/webhooks").text
        assert "no answer within 1 s" in page  # the deliveries list says why it is pending
        assert 'data-status="pending"' in page
