"""The one place that talks to a language model, through LiteLLM (imported here, lazily: it takes seconds).

`complete()` makes one structured-output call and returns the raw text of the answer; every failure of the
provider becomes an `LLMError` whose message is fit for the user and never contains a key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from core import metrics

logger = logging.getLogger(__name__)

_litellm = None
_import_lock = threading.Lock()


class LLMError(Exception):
    """The model could not give an answer this time; the message says why, for the user."""


@dataclass(frozen=True)
class Completion:
    text: str | None
    model: str
    seconds: float
    prompt_tokens: int | None
    completion_tokens: int | None


def _load_litellm():
    """Import litellm once per process, offline: no fetch of its model price map at import."""
    global _litellm
    with _import_lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            _litellm = litellm
    return _litellm


def is_configured() -> bool:
    return bool(settings.OPENROUTER_API_KEY or settings.LLM_API_BASE)


def call_options() -> dict:
    """Everything of the call but the messages: model, key, endpoint, OpenRouter's routing, effort, bounds."""
    model = settings.LLM_MODEL
    options: dict = {
        "model": model,
        "timeout": settings.LLM_TIMEOUT_SECONDS,
        "num_retries": 0,  # one request: a retry would double the wait, and the user can send again
        "reasoning_effort": "low",
    }
    if settings.LLM_API_BASE:
        options["api_base"] = settings.LLM_API_BASE
    # A local OpenAI-compatible server needs some key to be sent, even one it ignores.
    options["api_key"] = settings.OPENROUTER_API_KEY or ("not-needed" if settings.LLM_API_BASE else None)
    if model.startswith("openrouter/"):
        # Cerebras first; require_parameters keeps OpenRouter from falling back to a provider that would
        # ignore the JSON schema.
        options["extra_body"] = {"provider": {"order": ["cerebras"], "require_parameters": True}}
    return options


def _describe(exc: Exception) -> str:
    litellm = _litellm
    status = getattr(exc, "status_code", None)
    if litellm is not None:
        if isinstance(exc, litellm.AuthenticationError):
            return "The model provider refused the API key (401): check OPENROUTER_API_KEY."
        if isinstance(exc, litellm.RateLimitError):
            return "The model provider is rate limiting requests (429): try again in a moment."
        if isinstance(exc, litellm.Timeout):
            return f"The model did not answer within {settings.LLM_TIMEOUT_SECONDS:g} s: try again."
        if isinstance(exc, litellm.APIConnectionError) and not status:
            return "Could not reach the model provider: check the network or LLM_API_BASE."
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"The model did not answer within {settings.LLM_TIMEOUT_SECONDS:g} s: try again."
    if status:
        return f"The model provider failed (HTTP {status}): try again in a moment."
    return f"The model call failed ({type(exc).__name__}): try again in a moment."


async def complete(messages: list[dict], *, schema) -> Completion:
    """One structured-output call. Never blocks the event loop: the first import runs on a thread."""
    litellm = _litellm or await asyncio.to_thread(_load_litellm)
    options = call_options()
    started = time.perf_counter()
    try:
        # The outer bound also covers what litellm's own timeout does not (a slow DNS lookup, say).
        response = await asyncio.wait_for(
            litellm.acompletion(messages=messages, response_format=schema, **options),
            timeout=settings.LLM_TIMEOUT_SECONDS + 5,
        )
    except Exception as exc:
        seconds = time.perf_counter() - started
        metrics.MODEL_CALLS.labels("error").inc()
        metrics.MODEL_SECONDS.observe(seconds)
        logger.warning("LLM call failed: model=%s after %.2fs: %s", options["model"], seconds, type(exc).__name__)
        raise LLMError(_describe(exc)) from None
    seconds = time.perf_counter() - started
    usage = getattr(response, "usage", None)
    completion = Completion(
        text=response.choices[0].message.content if response.choices else None,
        model=options["model"],
        seconds=seconds,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
    )
    metrics.MODEL_CALLS.labels("ok").inc()
    metrics.MODEL_SECONDS.observe(seconds)
    for kind, tokens in (("prompt", completion.prompt_tokens), ("completion", completion.completion_tokens)):
        if isinstance(tokens, int) and tokens > 0:
            metrics.MODEL_TOKENS.labels(kind).inc(tokens)
    logger.info(
        "LLM call: model=%s latency=%.2fs prompt_tokens=%s completion_tokens=%s",
        completion.model, seconds, completion.prompt_tokens, completion.completion_tokens,
    )
    return completion
