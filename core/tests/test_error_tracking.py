"""core.error_tracking: what reaches Sentry (a local stub that receives the envelopes) and what never does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core import error_tracking
from core.tests.sentry_stub import SentryStub

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_KEY = "sk-or-v1-provider-secret-0123456789"
METRICS_TOKEN = "metrics-token-secret-555"
SESSION = "sessioncookie-secret-abcdef"
CHAT_TEXT = "buy my secret plan shares"


def test_before_send_takes_out_keys_tokens_the_user_and_bodies(settings):
    settings.OPENROUTER_API_KEY = PROVIDER_KEY
    settings.SENTRY_SEND_CHAT = False
    event = {
        "message": f"failed with {PROVIDER_KEY} and Authorization: Bearer abc.def.ghi and ?apiKey=zzz999",
        "user": {"id": "default", "ip_address": "10.0.0.1"},
        "request": {
            "url": "http://testserver/api/chat", "query_string": "apiKey=zzz999",
            "headers": {"Authorization": "Bearer abc.def.ghi", "Cookie": f"sessionid={SESSION}", "Accept": "*/*"},
            "cookies": {"sessionid": SESSION}, "data": {"message": CHAT_TEXT}, "env": {"REMOTE_ADDR": "10.0.0.1"},
        },
        "breadcrumbs": {"values": [{"message": f"LLM call with {PROVIDER_KEY}"}]},
    }
    sent = json.dumps(error_tracking.before_send(event))
    for secret in (PROVIDER_KEY, "abc.def.ghi", "zzz999", SESSION, CHAT_TEXT, "10.0.0.1"):
        assert secret not in sent, secret
    assert '"Accept": "*/*"' in sent  # what is not secret stays
    assert "failed with [Filtered]" in sent


def test_with_send_chat_only_the_chat_body_is_kept(settings):
    settings.SENTRY_SEND_CHAT = True
    chat = error_tracking.before_send({"request": {"url": "http://x/api/chat", "data": {"message": CHAT_TEXT}}})
    other = error_tracking.before_send({"request": {"url": "http://x/api/orders", "data": {"qty": "5"}}})
    assert chat["request"]["data"] == {"message": CHAT_TEXT}
    assert other["request"]["data"] == "[Filtered]"


def test_off_without_a_dsn(settings):
    settings.SENTRY_DSN = ""
    assert error_tracking.start() is False


WORKER_LOG = """
import django, logging, sentry_sdk
django.setup()  # core's ready() starts Sentry from SENTRY_DSN, as in the price worker
logging.getLogger("market.worker").error("tick 7 failed: store said Bearer log-token-secret-654")
sentry_sdk.flush(5)
"""


@pytest.mark.e2e
@pytest.mark.parametrize("send_chat", [False, True], ids=["default", "SENTRY_SEND_CHAT"])
def test_the_processes_send_scrubbed_errors_to_sentry(stack_factory, send_chat):
    """A real web process (uvicorn, the project's handler) whose view fails, and an error the worker logs, with
    SENTRY_DSN set: both reach the stub as events, each request with its own details, and none of the keys,
    tokens, cookies or (by default) the chat text do."""
    with SentryStub() as stub:
        stack = stack_factory(SENTRY_DSN=stub.dsn, OPENROUTER_API_KEY=PROVIDER_KEY, MASSIVE_API_KEY="",
                              METRICS_TOKEN=METRICS_TOKEN, SENTRY_SEND_CHAT=str(send_chat))
        stack.env["DJANGO_SETTINGS_MODULE"] = "core.tests.sentry_settings"  # the project's, and a failing view
        stack.start_web()
        failed = httpx.post(
            stack.base_url + "/api/chat-fails/chat?apiKey=query-secret-777", json={"message": CHAT_TEXT},
            headers={"Authorization": "Bearer header-token-secret-321", "Cookie": f"sessionid={SESSION}"},
        )
        assert failed.status_code == 500
        assert httpx.get(stack.base_url + "/fails").status_code == 500
        logged = subprocess.run([sys.executable, "-c", WORKER_LOG], cwd=ROOT, env=stack.env, capture_output=True,
                                text=True, timeout=60)
        assert logged.returncode == 0, logged.stderr
        events = stub.wait_for_events(3)
        raw = stub.raw().decode(errors="replace")
    assert len(events) == 3, events
    api, page = (next(e for e in events if e.get("request", {}).get("url", "").endswith(path))
                 for path in ("/api/chat-fails/chat", "/fails"))
    for event in (api, page):
        [exception] = event["exception"]["values"]
        assert exception["type"] == "RuntimeError"
        assert "provider said no to key [Filtered]" in exception["value"]
        assert "user" not in event
        for frame in exception["stacktrace"]["frames"]:
            assert "vars" not in frame  # local variables hold orders, chat text and keys
    assert api["request"]["method"] == "POST" and page["request"]["method"] == "GET"  # each its own request
    headers = {name.lower(): value for name, value in api["request"]["headers"].items()}
    assert headers.get("authorization", "[Filtered]") == headers.get("cookie", "[Filtered]") == "[Filtered]"
    assert headers["content-type"] == "application/json"  # what is not secret is sent
    assert api["request"].get("query_string") in (None, "[Filtered]")
    worker = next(e for e in events if e.get("logger") == "market.worker")
    assert "tick 7 failed" in worker["logentry"]["message"]
    for secret in (PROVIDER_KEY, METRICS_TOKEN, SESSION, "header-token-secret-321", "tok-in-message-123456",
                   "log-token-secret-654", "query-secret-777", "test-only-secret"):
        assert secret not in raw, secret
    assert (CHAT_TEXT in raw) is send_chat
