"""Alerts on real processes: a level crossed while the worker is down fires once when it is back, and never again
across another restart. Prices from a stub of Massive, so the test moves them."""

from __future__ import annotations

import sys
import time

import httpx
import pytest

from market.tests.massive_stub import MassiveStub
from market.tests.massive_stub import aapl_and_msft as quotes


def alert_of(stack, alert_id: str) -> dict:
    return next(a for a in httpx.get(stack.base_url + "/api/alerts", timeout=5).json() if a["id"] == alert_id)


def start_worker(stack, name: str) -> None:
    stack.processes[name] = stack._spawn(name, [sys.executable, "manage.py", "price_worker"])


def ticks_seen(stack, count: int, timeout: float = 15) -> None:
    """Wait for `count` more ticks of the running worker (the store's sequence, through /api/health)."""
    def seq() -> float:
        return httpx.get(stack.base_url + "/api/health", timeout=5).json()["prices"].get("last_tick_at") or 0

    start, seen, deadline = seq(), 0, time.monotonic() + timeout
    last = start
    while seen < count and time.monotonic() < deadline:
        time.sleep(0.2)
        now = seq()
        if now != last:
            seen, last = seen + 1, now
    assert seen >= count, stack.log("worker")


@pytest.mark.e2e
def test_an_alert_fires_exactly_once_across_worker_restarts(stack_factory):
    with MassiveStub() as stub:
        stub.script((200, quotes(190.0)))
        stack = stack_factory(MASSIVE_API_KEY="stub-key", MASSIVE_BASE_URL=stub.base_url, MASSIVE_POLL_SECONDS="1")
        start_worker(stack, "worker1")
        stack.start_web()
        stack.wait_for_prices()
        made = httpx.post(stack.base_url + "/api/alerts", json={"ticker": "AAPL", "condition": "above", "price": 195})
        assert made.status_code == 201, made.text
        alert_id = made.json()["id"]
        ticks_seen(stack, 2)
        assert alert_of(stack, alert_id)["status"] == "active"  # 190 is not above 195

        stack.stop("worker1")
        stub.script((200, quotes(196.0)))  # the price crosses the level while no worker runs
        start_worker(stack, "worker2")
        deadline = time.monotonic() + 15
        while alert_of(stack, alert_id)["status"] != "fired":
            assert time.monotonic() < deadline, stack.log("worker2")
            time.sleep(0.2)
        fired = alert_of(stack, alert_id)
        assert fired["fired_price"] == 196.0
        ticks_seen(stack, 2)

        stack.stop("worker2")
        start_worker(stack, "worker3")  # the price still above the level
        ticks_seen(stack, 3)
        assert alert_of(stack, alert_id) == fired  # fired once: the same time, the same price
        stack.stop_all()
    told = sum(stack.log(name).count(f"alert {alert_id} fired") for name in ("worker1", "worker2", "worker3"))
    assert told == 1
