"""A real OpenAI-compatible server (llama-cpp-python) with a real model (SmolLM2-135M) answers through
ChatOpenAI. This only proves the server fixture; product tests against it live elsewhere."""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from tests.support.llama_server import MODEL_ALIAS, LlamaServer

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.live_llm]

PROMPT = [
    SystemMessage("You answer in one short sentence."),
    HumanMessage("What is the capital of France?"),
]


def test_server_lists_its_model(llama_server: LlamaServer) -> None:
    import openai

    with openai.OpenAI(base_url=llama_server.base_url, api_key="local", max_retries=0, timeout=30) as client:
        ids = [m.id for m in client.models.list().data]
    assert llama_server.model in ids
    if llama_server.process is not None:  # the server we started serves the SmolLM2 GGUF as MODEL_ALIAS
        assert llama_server.model == MODEL_ALIAS
    print(
        f"\nllama_cpp.server ready in {llama_server.startup_seconds:.1f}s"
        f" (warm-up completion {llama_server.warmup_seconds:.1f}s) at {llama_server.base_url}"
    )


def test_chat_completion_non_stream(llama_server: LlamaServer, record_property: pytest.RecordProperty) -> None:
    llm = llama_server.chat_model(max_tokens=32)
    start = time.monotonic()
    message = llm.invoke(PROMPT)
    elapsed = time.monotonic() - start
    record_property("seconds", round(elapsed, 2))
    print(f"\nnon-stream: {elapsed:.2f}s -> {message.content!r}")
    assert isinstance(message.content, str)
    assert "paris" in message.content.lower(), message.content


def test_chat_completion_stream(llama_server: LlamaServer, record_property: pytest.RecordProperty) -> None:
    llm = llama_server.chat_model(max_tokens=32)
    start = time.monotonic()
    first_token_at: float | None = None
    pieces: list[str] = []
    for chunk in llm.stream(PROMPT):
        assert isinstance(chunk.content, str)
        if chunk.content:
            if first_token_at is None:
                first_token_at = time.monotonic() - start
            pieces.append(chunk.content)
    elapsed = time.monotonic() - start
    record_property("seconds", round(elapsed, 2))
    text = "".join(pieces)
    print(f"\nstream: first token after {first_token_at}s, {len(pieces)} pieces in {elapsed:.2f}s -> {text!r}")
    assert "paris" in text.lower(), text
    assert len(pieces) > 1  # really streamed, token by token
