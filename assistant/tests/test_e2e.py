"""The assistant over a real uvicorn: a slow model never stalls the server, and mock mode trades for real."""

import json
import threading
import time

import httpx
import pytest

from assistant.tests.openai_stub import OpenAIStub, reply

pytestmark = pytest.mark.e2e


def test_a_slow_model_does_not_block_other_requests(stack_factory):
    with OpenAIStub() as model:
        answer = {"message": "Bought.", "trades": [{"ticker": "AAPL", "side": "buy", "quantity": 1}]}
        model.script((200, reply(json.dumps(answer)), 4.0))
        stack = stack_factory(
            LLM_MOCK="false", LLM_MODEL="openai/stub", LLM_API_BASE=model.base_url + "/v1", OPENROUTER_API_KEY="",
            LLM_TIMEOUT_SECONDS="20",
        )
        stack.start_worker()
        stack.start_web()
        stack.wait_for_prices()
        api = stack.base_url + "/api"
        result = {}
        chat = threading.Thread(
            target=lambda: result.update(response=httpx.post(api + "/chat", json={"message": "buy 1"}, timeout=60))
        )
        chat.start()
        while not model.requests:  # the model call is under way (litellm's first import included)
            time.sleep(0.05)
        started = time.monotonic()
        for _ in range(10):
            assert httpx.get(api + "/health", timeout=5).status_code == 200
        trade = httpx.post(api + "/portfolio/trade", json={"ticker": "MSFT", "quantity": 1, "side": "buy"})
        assert trade.status_code == 201
        assert time.monotonic() - started < 2.0, "requests waited behind the model call"
        chat.join(timeout=60)
        body = result["response"].json()
        assert body["trades"][0]["status"] == "executed"
        positions = {p["ticker"] for p in httpx.get(api + "/portfolio").json()["positions"]}
        assert positions == {"AAPL", "MSFT"}


def test_the_same_message_id_sent_twice_at_once_is_answered_once(stack_factory):
    """Two web requests racing with one client_message_id (a double submit, a retry fired too early)."""
    stack = stack_factory()  # LLM_MOCK=true
    stack.start_worker()
    stack.start_web()
    stack.wait_for_prices()
    api = stack.base_url + "/api"
    barrier = threading.Barrier(6)
    responses = []

    def send():
        barrier.wait()
        responses.append(httpx.post(api + "/chat", json={"message": "buy 1 AAPL", "client_message_id": "race-1"},
                                    timeout=30))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409} and statuses.count(200) >= 1
    executed = {r.json()["id"] for r in responses if r.status_code == 200}
    assert len(executed) == 1  # every 200 is the one answer
    portfolio = httpx.get(api + "/portfolio").json()
    assert [(p["ticker"], p["quantity"]) for p in portfolio["positions"]] == [("AAPL", 1.0)]
    history = httpx.get(api + "/chat/history").json()
    assert [m["role"] for m in history] == ["user", "assistant"]
