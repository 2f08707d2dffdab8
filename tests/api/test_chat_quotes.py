"""README: each citation's quote is verbatim in the article body at `start:end`, "on every path, including
the OpenAI-compatible endpoint". Checked on /v1/chat/completions plain and streamed, with extractive
answers and with a (scripted) model, whatever markers the model writes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import MICROSOFT
from tests.support.fake_llm import FakeLLM

pytestmark = pytest.mark.integration

QUESTIONS = [
    MICROSOFT,
    "What is the latest on US export rules for AI chips?",
    "Did the Kansas City Chiefs win Super Bowl LIX?",
]


def chat(client: httpx.Client, base: str, question: str, *, stream: bool) -> tuple[str, list[dict[str, Any]]]:
    """The reply's content and its `citations` field, from a plain or a streamed completion."""
    body = {"model": "newsrag", "messages": [{"role": "user", "content": question}], "stream": stream}
    if not stream:
        response = client.post(f"{base}/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        reply = response.json()
        return reply["choices"][0]["message"]["content"], reply["citations"]
    content: list[str] = []
    citations: list[list[dict[str, Any]]] = []
    with client.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            payload = json.loads(line[len("data: ") :])
            assert "error" not in payload, payload
            for choice in payload["choices"]:
                content.append(choice["delta"].get("content") or "")
            if "citations" in payload:
                citations.append(payload["citations"])
    assert len(citations) == 1, "exactly one chunk carries the citations"
    return "".join(content), citations[0]


def assert_quotes_verbatim(client: httpx.Client, base: str, citations: list[dict[str, Any]]) -> None:
    for c in citations:
        assert c["quote"].strip(), f"citation [{c['n']}] has an empty quote: {c}"
        assert c["end"] > c["start"], c
        body = client.get(f"{base}/v1/articles/{c['article_id']}").json()["body"]
        assert body[c["start"] : c["end"]] == c["quote"], c


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("question", QUESTIONS, ids=["microsoft", "chips", "superbowl"])
def test_extractive_chat_quotes_are_verbatim(
    sample_api: str, client: httpx.Client, question: str, stream: bool
) -> None:
    content, citations = chat(client, sample_api, question, stream=stream)
    assert citations, content
    assert_quotes_verbatim(client, sample_api, citations)
    for c in citations:
        assert f"[{c['n']}]" in content


# What a model may write. The last one glues a bare "(n)" to a word and a token boundary: the stream's
# marker rewriting sees "(7)" alone and counts it as a marker, the verifier sees "OpenAI(7)" and does not;
# the passage the reader saw numbered must still get a real, verbatim quote (never an empty placeholder).
MODEL_REPLIES = {
    "markers": ["Microsoft has invested", " $13 billion", " in OpenAI [1].", " It added $1 billion", " [2]."],
    "forms": ["Microsoft invested $13 billion", " [Source 2]", " and more (1).", " See also [1, 3]."],
    "invalid": ["Microsoft has invested $13 billion", " in OpenAI [1]", " and [42]."],
    "uncited": ["Microsoft has invested $13 billion in OpenAI since 2019."],
    "glued-paren": ["Microsoft has invested $13 billion in OpenAI", "(7)", "x since 2019."],
}


@pytest.mark.parametrize(
    ("reply", "stream"),
    [
        pytest.param(
            tokens,
            stream,
            id=f"{name}-{'streamed' if stream else 'plain'}",
        )
        for name, tokens in MODEL_REPLIES.items()
        for stream in (False, True)
    ],
)
def test_model_chat_quotes_are_verbatim(
    llm_api: str, fake_llm: FakeLLM, client: httpx.Client, reply: list[str], stream: bool
) -> None:
    fake_llm.queue_tokens(reply)
    content, citations = chat(client, llm_api, MICROSOFT, stream=stream)
    assert citations, content
    assert_quotes_verbatim(client, llm_api, citations)
