"""/v1/chat/completions and /v1/models through the official `openai` client, streaming and not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.api.conftest import MICROSOFT

pytestmark = pytest.mark.integration

SOURCE_LINE = re.compile(r"^\[(\d+)\] (.+) — (.+), (\d{4}-\d{2}-\d{2}|undated), (\S+)$")


@pytest.fixture
def oai(sample_api: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{sample_api}/v1", api_key="unused", max_retries=0, timeout=30) as c:
        yield c


def sources_section(content: str) -> tuple[str, list[re.Match[str]]]:
    assert "\n\nSources:\n" in content, content
    body, _, listing = content.partition("\n\nSources:\n")
    lines = [SOURCE_LINE.match(line) for line in listing.splitlines()]
    assert all(lines), listing
    return body, lines  # type: ignore[return-value]


def test_models(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == ["newsrag"]
    assert oai.models.retrieve("newsrag").id == "newsrag"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")


def test_chat_completion_keeps_citations(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="newsrag", messages=[{"role": "user", "content": MICROSOFT}])
    content = completion.choices[0].message.content or ""
    assert "$13 billion" in content
    body, lines = sources_section(content)
    citations = completion.model_extra["citations"]  # type: ignore[index]
    assert citations
    assert [int(m.group(1)) for m in lines] == [c["n"] for c in citations]
    assert sorted({int(n) for n in re.findall(r"\[(\d+)\]", body)}) == [c["n"] for c in citations]
    for line, c in zip(lines, citations, strict=True):
        assert line.group(2) == c["title"] and line.group(3) == c["source"] and line.group(5) == c["url"]
        assert line.group(4) == c["published_at"][:10]
        assert c["quote"]
    assert completion.model == "newsrag" and completion.usage is not None


def test_chat_completion_stream_keeps_citations(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="newsrag",
            messages=[{"role": "user", "content": MICROSOFT}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    content_chunks = [c for c in chunks if c.choices]
    assert len(content_chunks) > 3, "the answer is streamed in pieces"
    content = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    body, lines = sources_section(content)
    last = content_chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    citations = last.model_extra["citations"]  # type: ignore[index]
    assert citations and [int(m.group(1)) for m in lines] == [c["n"] for c in citations]
    assert set(int(n) for n in re.findall(r"\[(\d+)\]", body)) <= {c["n"] for c in citations}
    assert "$13 billion" in body
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_chat_history_is_used_for_follow_ups(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model="newsrag", messages=[{"role": "user", "content": "Did the Kansas City Chiefs win Super Bowl LIX?"}]
    )
    follow = oai.chat.completions.create(
        model="newsrag",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Did the Kansas City Chiefs win Super Bowl LIX?"},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            {"role": "user", "content": "Who beat them?"},
        ],
    )
    assert "Eagles" in (follow.choices[0].message.content or "")


def test_chat_errors_in_openai_shape(oai: openai.OpenAI, sample_api: str) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": MICROSOFT}])
    assert missing.value.code == "model_not_found" and missing.value.type == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as unknown:
        oai.models.retrieve("gpt-4o")
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(model="newsrag", messages=[{"role": "system", "content": "only a system"}])
    assert info.value.param == "messages" and info.value.type == "invalid_request_error"
    response = httpx.post(f"{sample_api}/v1/chat/completions", json={"model": "newsrag", "messages": []})
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert response.json()["error"]["param"] == "messages"
    # The newsrag endpoints keep their own shape.
    ask = httpx.post(f"{sample_api}/v1/ask", json={"question": ""})
    assert ask.status_code == 422 and ask.json()["error"]["type"] == "invalid_input"


def test_filters_as_extra_body(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="newsrag",
        messages=[{"role": "user", "content": MICROSOFT}],
        extra_body={"filters": {"sources": ["Tech Times"]}},
    )
    citations = completion.model_extra["citations"]  # type: ignore[index]
    assert citations and {c["source"] for c in citations} == {"Tech Times"}


def _answers_counted(sample_api: str) -> float:
    text = httpx.get(f"{sample_api}/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("newsrag_answers_total"))


@pytest.mark.parametrize("stream", [False, True])
def test_chat_ui_title_request_is_answered_without_a_news_search(
    oai: openai.OpenAI, sample_api: str, stream: bool
) -> None:
    history = "\n".join(f"USER: {MICROSOFT}" if i % 2 == 0 else "ASSISTANT: $13 billion [1]" for i in range(400))
    prompt = (
        "### Task:\nGenerate a concise, 3-5 word title for the chat.\n### Output:\n"
        'JSON format: { "title": "your concise title here" }\n'
        f"### Chat History:\n<chat_history>\n{history}\n</chat_history>"
    )
    before = _answers_counted(sample_api)
    messages = [{"role": "user", "content": prompt}]
    if stream:
        chunks = list(oai.chat.completions.create(model="newsrag", messages=messages, stream=True))  # type: ignore[arg-type]
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert chunks[-1].choices[0].finish_reason == "stop"
    else:
        completion = oai.chat.completions.create(model="newsrag", messages=messages)  # type: ignore[arg-type]
        content = completion.choices[0].message.content or ""
        assert completion.model_extra["citations"] == []  # type: ignore[index]
    assert json.loads(content) == {"title": "Microsoft Invested in OpenAI"}
    assert _answers_counted(sample_api) == before, "no answer (and no retrieval) was made for it"
