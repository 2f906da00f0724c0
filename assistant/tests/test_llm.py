"""The real LiteLLM HTTP path against a local OpenAI-compatible stub: what goes on the wire, what comes back."""

import json
import logging
import re

import pytest

from assistant import llm
from assistant.reply import AssistantReply
from assistant.tests.openai_stub import OpenAIStub, reply

MESSAGES = [{"role": "user", "content": "hello"}]
KEY = "sk-or-test-secret-key"


@pytest.fixture
def stub(settings):
    with OpenAIStub() as server:
        settings.LLM_MODEL = "openrouter/openai/gpt-oss-120b"
        settings.LLM_API_BASE = server.base_url + "/api/v1"
        settings.OPENROUTER_API_KEY = KEY
        settings.LLM_TIMEOUT_SECONDS = 2
        yield server


@pytest.mark.anyio
async def test_the_request_carries_model_schema_provider_order_and_effort(stub, caplog):
    stub.script((200, reply(json.dumps({"message": "hi", "trades": [], "watchlist_changes": []}))))
    with caplog.at_level(logging.INFO, logger="assistant.llm"):
        completion = await llm.complete(MESSAGES, schema=AssistantReply)
    assert json.loads(completion.text)["message"] == "hi"
    assert (completion.prompt_tokens, completion.completion_tokens) == (120, 30)
    [request] = stub.requests
    assert request["path"] == "/api/v1/chat/completions"
    assert {k.lower(): v for k, v in request["headers"].items()}["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "openai/gpt-oss-120b"
    assert body["messages"] == MESSAGES
    assert body["reasoning_effort"] == "low"
    assert body["provider"] == {"order": ["cerebras"], "require_parameters": True}
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert set(schema["properties"]) == {"message", "trades", "watchlist_changes", "cancel_orders", "alerts"}
    assert "model=openrouter/openai/gpt-oss-120b" in caplog.text and "prompt_tokens=120" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.anyio
async def test_a_local_openai_compatible_server_without_a_key(stub, settings):
    settings.LLM_MODEL = "openai/local-model"
    settings.OPENROUTER_API_KEY = ""
    settings.LLM_API_BASE = stub.base_url + "/v1"
    stub.script((200, reply('{"message": "local"}')))
    completion = await llm.complete(MESSAGES, schema=AssistantReply)
    assert json.loads(completion.text) == {"message": "local"}
    [request] = stub.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "local-model"
    assert "provider" not in request["body"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer, expected",
    [
        ((401, {"error": {"message": "invalid key", "code": 401}}), "refused the API key (401)"),
        ((429, {"error": {"message": "slow down", "code": 429}}), "rate limiting requests (429)"),
        ((500, {"error": {"message": "boom", "code": 500}}), "try again"),
        ((200, b"<html>garbage, not JSON</html>"), "try again"),
        ((200, reply("late"), 4.0), "did not answer within 2 s"),
    ],
    ids=["401", "429", "500", "garbage", "timeout"],
)
async def test_provider_failures_become_a_clear_message(stub, answer, expected, caplog):
    stub.script(answer)
    with pytest.raises(llm.LLMError, match=re.escape(expected)) as raised:
        await llm.complete(MESSAGES, schema=AssistantReply)
    assert KEY not in str(raised.value) and KEY not in caplog.text
    assert len(stub.requests) == 1  # no retries: one request per message


@pytest.mark.anyio
async def test_an_unreachable_provider(settings):
    settings.LLM_MODEL = "openrouter/openai/gpt-oss-120b"
    settings.LLM_API_BASE = "http://127.0.0.1:9/api/v1"  # nothing listens on the discard port
    settings.OPENROUTER_API_KEY = KEY
    settings.LLM_TIMEOUT_SECONDS = 2
    with pytest.raises(llm.LLMError):
        await llm.complete(MESSAGES, schema=AssistantReply)


def test_django_start_up_does_not_import_litellm():
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'finally_site.settings'); django.setup();"
        "import finally_site.urls, finally_site.asgi, sys; print('litellm' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"


def sample(name: str, **labels) -> float:
    from core import metrics

    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.anyio
async def test_model_calls_are_counted_with_their_latency_and_tokens(stub):
    """core.metrics: a call that answered (with its tokens) and one that failed, each counted once and timed."""
    before = {
        "ok": sample("finally_model_calls_total", outcome="ok"),
        "error": sample("finally_model_calls_total", outcome="error"),
        "timed": sample("finally_model_call_seconds_count"),
        "prompt": sample("finally_model_tokens_total", kind="prompt"),
        "completion": sample("finally_model_tokens_total", kind="completion"),
    }
    stub.script((200, reply('{"message": "hi"}')), (500, {"error": "down"}))
    await llm.complete(MESSAGES, schema=AssistantReply)
    with pytest.raises(llm.LLMError):
        await llm.complete(MESSAGES, schema=AssistantReply)
    assert sample("finally_model_calls_total", outcome="ok") - before["ok"] == 1
    assert sample("finally_model_calls_total", outcome="error") - before["error"] == 1
    assert sample("finally_model_call_seconds_count") - before["timed"] == 2
    assert sample("finally_model_tokens_total", kind="prompt") - before["prompt"] == 120
    assert sample("finally_model_tokens_total", kind="completion") - before["completion"] == 30
