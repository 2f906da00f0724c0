"""Orders against the real worker and web server: never filled at a price the user cannot see as live."""

import signal
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e

ORDER = {"ticker": "AAPL", "quantity": 1, "side": "buy"}


def test_orders_are_refused_while_the_worker_is_paused_and_resume_after(live_stack):
    api = live_stack.base_url + "/api"
    assert httpx.post(api + "/portfolio/trade", json=ORDER).status_code == 201
    worker = live_stack.processes["worker"]
    worker.send_signal(signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 15
        while httpx.get(api + "/health").json()["prices"]["fresh"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        trades_before = len(httpx.get(api + "/portfolio").json()["positions"])
        response = httpx.post(api + "/portfolio/trade", json=ORDER)
        assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
        assert response.json()["error"].startswith("Prices are delayed")
        assert "resume" in response.json()["error"]
        portfolio = httpx.get(api + "/portfolio").json()
        assert len(portfolio["positions"]) == trades_before and portfolio["positions"][0]["quantity"] == 1
    finally:
        worker.send_signal(signal.SIGCONT)
    live_stack.wait_for_prices()
    assert httpx.post(api + "/portfolio/trade", json=ORDER).status_code == 201
