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
        assert httpx.post(api + "/portfolio/trade", json={"ticker": "MSFT", "quantity": 1, "side": "buy"}).status_code == 201
        assert time.monotonic() - started < 2.0, "requests waited behind the model call"
        chat.join(timeout=60)
        body = result["response"].json()
        assert body["trades"][0]["status"] == "executed"
        positions = {p["ticker"] for p in httpx.get(api + "/portfolio").json()["positions"]}
        assert positions == {"AAPL", "MSFT"}
