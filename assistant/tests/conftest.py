"""Fixtures of the assistant's tests."""

import pytest

from assistant import llm


@pytest.fixture
def model(monkeypatch, settings):
    """The model answers with whatever text the test appends to `answers` (an exception is raised instead); the
    rest of the path is real. `seen` holds the messages each call was given."""
    settings.LLM_MOCK = False
    settings.OPENROUTER_API_KEY = "sk-test"
    answers: list = []
    seen: list = []

    async def complete(messages, *, schema):
        seen.append(messages)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return llm.Completion(text=answer, model="stub", seconds=0.0, prompt_tokens=1, completion_tokens=1)

    monkeypatch.setattr(llm, "complete", complete)
    return answers, seen


@pytest.fixture(autouse=True)
def roomy_turn_budget(settings):
    """Tests that send a conversation's worth of messages in a second are not about the per-minute budget; the
    budget's own tests (test_api.TestTurnBudget) set it low."""
    settings.ASSISTANT_TURNS_PER_MINUTE = 10_000
