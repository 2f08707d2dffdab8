"""Follow-ups without an LLM, through the HTTP API: /v1/ask with history and /v1/chat/completions."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.api.conftest import MICROSOFT

pytestmark = pytest.mark.integration

FIRST_REPLY = "Tech Times (2025-09-12): “Microsoft has invested $13 billion in OpenAI since 2019.” [1]"
FOLLOW_UP = "And which other AI company did Microsoft talk to?"


def test_ask_with_history_resolves_which_other(sample_api: str) -> None:
    history = [{"role": "user", "content": MICROSOFT}, {"role": "assistant", "content": FIRST_REPLY}]
    body = httpx.post(f"{sample_api}/v1/ask", json={"question": FOLLOW_UP, "history": history}, timeout=60).json()
    assert not body["refused"], body["answer"]
    assert "OpenAI" in body["standalone_question"], "the previous entity is excluded by name"
    assert body["short_answer"] is not None and body["short_answer"]["text"] == "Anthropic"
    assert any("Anthropic" in c["quote"] for c in body["citations"])


def test_chat_completions_follow_up_and_ellipsis(sample_api: str) -> None:
    with openai.OpenAI(base_url=f"{sample_api}/v1", api_key="unused", max_retries=0, timeout=60) as oai:
        first = oai.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": MICROSOFT}])
        messages = [
            {"role": "user", "content": MICROSOFT},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            {"role": "user", "content": FOLLOW_UP},
        ]
        reply = oai.chat.completions.create(model="newsrag", messages=messages)  # type: ignore[arg-type]
        content = reply.choices[0].message.content or ""
        assert content.splitlines()[0].startswith("Anthropic ["), content
        seats = [
            {"role": "user", "content": "How many seats did Labour win in the 2024 UK general election?"},
            {"role": "assistant", "content": "Labour had won 411 of the 650 seats [1]"},
            {"role": "user", "content": "And the Conservatives?"},
        ]
        again = oai.chat.completions.create(model="newsrag", messages=seats)  # type: ignore[arg-type]
        assert "121" in (again.choices[0].message.content or "").splitlines()[0]
