"""core.metrics: who may read the metrics, the web's /metrics, the worker's port, and the counts after known traffic
on a real stack (worker and web as processes, METRICS=on)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import metrics

TOKEN = "scrape-token-for-tests-0123456789"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize(
    "peer, authorization, allow",
    [
        ("127.0.0.1", None, True),
        ("127.0.0.2", None, True),  # all of 127.0.0.0/8 is this machine
        ("::1", None, True),
        ("::ffff:127.0.0.1", None, True),  # an IPv4 loopback peer on a dual-stack socket
        ("10.1.2.3", None, False),
        ("192.168.1.5", None, False),
        ("10.1.2.3", f"Bearer {TOKEN}", True),
        ("10.1.2.3", f"bearer {TOKEN}", True),
        ("10.1.2.3", "Bearer wrong-token", False),
        ("10.1.2.3", f"Basic {TOKEN}", False),
        ("10.1.2.3", "Bearer ", False),
        ("not an address", None, False),
        (None, None, False),
    ],
)
def test_who_may_read_the_metrics(settings, peer, authorization, allow):
    settings.METRICS_TOKEN = TOKEN
    assert metrics.allowed(peer, authorization) is allow


def test_without_a_token_set_no_bearer_header_lets_anyone_in(settings):
    settings.METRICS_TOKEN = ""
    assert not metrics.allowed("10.1.2.3", "Bearer ")
    assert not metrics.allowed("10.1.2.3", "Bearer anything")


def test_the_allow_list_is_the_setting(settings):
    import ipaddress

    settings.METRICS_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]
    assert metrics.allowed("10.1.2.3", None)
    assert not metrics.allowed("127.0.0.1", None)


class InsufficientCash(Exception):
    pass


class PriceNotYet(Exception):
    pass


def test_a_refusal_is_labelled_by_its_kind():
    assert metrics.reason(InsufficientCash("no")) == "insufficient_cash"
    assert metrics.reason(PriceNotYet("wait")) == "price_not_yet"


@pytest.mark.django_db
def test_metrics_are_a_404_while_off(client, settings):
    settings.METRICS = False
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_from_an_allowed_address_or_with_the_token(client, settings):
    settings.METRICS = True
    settings.METRICS_TOKEN = TOKEN
    answered = client.get("/metrics")  # the test client's REMOTE_ADDR is 127.0.0.1
    assert answered.status_code == 200
    assert answered["Content-Type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(answered.content.decode())}
    assert {"finally_http_requests", "finally_orders_placed", "finally_open_streams", "finally_tick_age_seconds",
            "finally_fanout_delay_seconds", "finally_model_calls", "finally_database_errors"} <= names
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer nope").status_code == 404


@pytest.mark.django_db
def test_with_accounts_on_the_metrics_need_no_sign_in(client, settings):
    settings.ACCOUNTS = True
    settings.METRICS = True
    assert client.get("/metrics").status_code == 200
    assert client.get("/").status_code == 302  # the workstation still asks for one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_worker_port_serves_only_what_is_allowed(settings):
    settings.METRICS = True
    settings.METRICS_WORKER_HOST = "127.0.0.1"
    settings.METRICS_WORKER_PORT = free_port()
    settings.METRICS_TOKEN = TOKEN
    server = metrics.serve_worker_metrics()
    try:
        base = f"http://127.0.0.1:{settings.METRICS_WORKER_PORT}"
        assert "finally_worker_tick_seconds" in httpx.get(base + "/metrics").text
        assert httpx.get(base + "/other").status_code == 404
        settings.METRICS_ALLOW = []  # loopback no longer allowed: only the token reads them
        assert httpx.get(base + "/metrics").status_code == 404
        assert httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        # A second worker on the same port says so and runs without metrics, rather than failing to start.
        assert metrics.serve_worker_metrics() is None
    finally:
        server.shutdown()
        server.server_close()


def test_off_means_no_worker_port(settings):
    settings.METRICS = False
    assert metrics.serve_worker_metrics() is None


@pytest.mark.e2e
def test_a_scrape_after_known_traffic(stack_factory):
    """Real processes with METRICS=on: known orders, a refusal, a cancel and an open stream, then each process's
    scrape says exactly that (the web's counts start at zero with the process)."""
    worker_port = free_port()
    stack = stack_factory(METRICS="on", METRICS_WORKER_PORT=str(worker_port))
    stack.start_worker()
    stack.start_web()
    stack.wait_for_prices()
    api = httpx.Client(base_url=stack.base_url, timeout=10)
    trade = api.post("/api/portfolio/trade", json={"ticker": "AAPL", "side": "buy", "quantity": 1})
    assert trade.status_code == 201, trade.text
    refused = api.post("/api/portfolio/trade", json={"ticker": "AAPL", "side": "buy", "quantity": 100000})
    assert refused.status_code == 400, refused.text
    resting = api.post("/api/orders", json={"ticker": "AAPL", "side": "buy", "qty": 1, "type": "limit",
                                            "limit_price": 1, "time_in_force": "gtc"})
    assert resting.status_code == 201, resting.text
    assert api.delete(f"/api/orders/{resting.json()['id']}").status_code == 200
    assert api.get("/api/nowhere/at/all").status_code == 404
    with httpx.stream("GET", stack.base_url + "/api/stream/prices", timeout=10) as stream:
        # Held while scraping: a dropped byte iterator closes the stream (and the server rightly counts it gone).
        chunks = stream.iter_bytes()
        next(chunks)  # the stream is open: its first event has come
        scraped = samples(api.get("/metrics").text)
        assert value(scraped, "finally_open_streams") == 1
        del chunks
    assert value(scraped, "finally_orders_placed_total", type="market") == 1
    assert value(scraped, "finally_orders_placed_total", type="limit") == 1
    assert value(scraped, "finally_orders_filled_total", type="market") == 1
    assert value(scraped, "finally_orders_rejected_total", reason="insufficient_cash") == 1
    assert value(scraped, "finally_orders_canceled_total") == 1
    trade_route = {"route": "/api/portfolio/trade", "method": "POST"}
    assert value(scraped, "finally_http_requests_total", status="201", **trade_route) == 1
    assert value(scraped, "finally_http_requests_total", status="400", **trade_route) == 1
    assert value(scraped, "finally_http_request_duration_seconds_count", **trade_route) == 2
    # A path nobody serves is one label, not one per path.
    assert value(scraped, "finally_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert 0 <= value(scraped, "finally_tick_age_seconds") < 5
    assert value(scraped, "finally_fanout_delay_seconds_count") >= 1  # the stream's ticks were handed out
    assert value(scraped, "finally_database_errors_total") == 0

    deadline = time.monotonic() + 10
    while True:
        worker = samples(httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text)
        if value(worker, "finally_worker_tick_seconds_count") >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert value(worker, "finally_worker_tick_seconds_count") >= 2
    assert value(worker, "finally_worker_tick_seconds_sum") > 0
    assert 0 <= value(worker, "finally_tick_age_seconds") < 5
    assert value(worker, "finally_orders_placed_total", type="market") == 0  # the web's orders are the web's


def test_the_dashboard_and_the_scrape_config_name_only_metrics_that_exist():
    """deploy/: every series the Grafana dashboard plots is one core.metrics defines (a renamed metric fails here,
    not as an empty panel), and the scrape config scrapes both kinds of process."""
    import json
    import re
    from pathlib import Path

    import yaml

    deploy = Path(__file__).resolve().parents[2] / "deploy"
    dashboard = json.loads((deploy / "grafana" / "finally-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    plotted = {re.sub(r"_(bucket|total|count|sum)$", "", name) for e in exprs for name in re.findall(r"finally_\w+", e)}
    defined = {family.name for family in metrics.REGISTRY.collect()}
    assert plotted and plotted <= defined, plotted - defined
    assert defined <= plotted, f"not on the dashboard: {defined - plotted}"
    scrape = yaml.safe_load((deploy / "prometheus.yml").read_text())
    assert {job["job_name"] for job in scrape["scrape_configs"]} == {"finally-web", "finally-worker"}
