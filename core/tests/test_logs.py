"""core.logs: request ids in and out, JSON log lines, and on a real stack (LOG_FORMAT=json) every line of both
processes is one JSON object, and an order's lines carry its id and the request's."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

import httpx
import pytest

from core import logs


def record(message: str = "order %s placed", *args, **extra) -> logging.LogRecord:
    made = logging.LogRecord("portfolio.events", logging.INFO, __file__, 1, message, args or ("o-1",), None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_json_line_has_the_time_level_logger_message_request_and_extras():
    token = logs.REQUEST_ID.set("req-1234abcd")
    try:
        line = record(order_id="o-1", event="order.placed")
        logs.RequestIdFilter().filter(line)
    finally:
        logs.REQUEST_ID.reset(token)
    parsed = json.loads(logs.JSONFormatter().format(line))
    assert parsed["message"] == "order o-1 placed"
    assert parsed["level"] == "INFO" and parsed["logger"] == "portfolio.events"
    assert parsed["request_id"] == "req-1234abcd"
    assert parsed["order_id"] == "o-1" and parsed["event"] == "order.placed"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", parsed["time"])


def test_a_json_line_outside_a_request_has_no_request_id_and_keeps_a_traceback_on_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        line = record("tick %d failed", 7, exc_info=sys.exc_info())
    line.exc_info = line.exc_info  # as logger.exception leaves it
    logs.RequestIdFilter().filter(line)
    text = logs.JSONFormatter().format(line)
    assert "\n" not in text  # one object per line, whatever the message or traceback holds
    parsed = json.loads(text)
    assert "request_id" not in parsed
    assert "ValueError: boom" in parsed["exception"]


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    first = client.get("/api/health")["X-Request-ID"]
    second = client.get("/api/health")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    assert client.get("/api/nowhere")["X-Request-ID"]  # a refusal too


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given, kept",
    [("proxy-7f3a9c1e", True), ("a" * 64, True), ("short", False), ("a" * 65, False),
     ("evil\nfake log line", False), ("spaces are not ids", False)],
)
def test_a_proxys_request_id_is_kept_only_when_it_is_a_plain_token(client, given, kept):
    answered = client.get("/api/health", HTTP_X_REQUEST_ID=given)["X-Request-ID"]
    assert (answered == given) is kept


@pytest.mark.e2e
def test_json_logs_on_a_real_stack(stack_factory):
    stack = stack_factory(LOG_FORMAT="json")
    stack.start_worker()
    # The web server as `make run` starts it (manage.py serve), so uvicorn's own lines are counted too.
    stack.processes["web"] = stack._spawn(
        "web", [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(stack.port)]
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(stack.base_url + "/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, stack.log("web")
        time.sleep(0.1)
    stack.wait_for_prices()
    placed = httpx.post(stack.base_url + "/api/portfolio/trade", headers={"X-Request-ID": "support-case-4711"},
                        json={"ticker": "AAPL", "side": "buy", "quantity": 2}, timeout=10)
    assert placed.status_code == 201, placed.text
    assert placed.headers["X-Request-ID"] == "support-case-4711"
    order_id = httpx.get(stack.base_url + "/api/orders?status=closed", timeout=10).json()[0]["id"]
    deadline = time.monotonic() + 5
    while f'"order_id": "{order_id}"' not in stack.log("web") and time.monotonic() < deadline:
        time.sleep(0.1)
    stack.stop_all()  # the shutdown's lines too

    for name in ("web", "worker"):
        lines = [line for line in stack.log(name).splitlines() if line.strip()]
        assert lines, name
        for line in lines:
            parsed = json.loads(line)  # every line, uvicorn's and the worker's included
            assert {"time", "level", "logger", "message"} <= parsed.keys(), line
    told = [json.loads(line) for line in stack.log("web").splitlines() if order_id in line]
    assert {line["event"] for line in told} == {"order.placed", "order.filled"}
    for line in told:
        assert line["order_id"] == order_id
        assert line["request_id"] == "support-case-4711"  # told at the commit, on the writer's thread
