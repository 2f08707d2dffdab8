"""The product against a real small model (SmolLM2-135M behind llama.cpp's OpenAI-compatible server).
Its answers are poor, which is the point: whatever it says, the result is a valid Answer."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from rag.answer.llm import LLMAnswerer
from rag.chain import NewsQA
from rag.models import ChatTurn, Query
from rag.runtime import Runtime
from tests.rag.test_answers import assert_valid
from tests.support.llama_server import MODEL_ALIAS, LlamaServer

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.live_llm]

QUESTIONS = [
    Query(question="How much has Microsoft invested in OpenAI?"),
    Query(question="Who won the 2022 FIFA World Cup?"),
    Query(
        question="And what did it add in 2024?",
        history=(ChatTurn(role="user", content="How much has Microsoft invested in OpenAI?"),),
    ),
]


@pytest.mark.parametrize("query", QUESTIONS, ids=lambda q: q.question[:30])
def test_whatever_a_real_model_says_the_answer_is_valid(
    sample_runtime: Runtime, llama_server: LlamaServer, query: Query
) -> None:
    settings = sample_runtime.settings.model_copy(
        update={
            "llm_model": MODEL_ALIAS,
            "openai_base_url": llama_server.base_url,
            "answerer": "openai",
            "openai_api_key": SecretStr("local"),
            "llm_timeout": 120.0,
            "llm_max_retries": 0,
            "top_k": 4,
            "llm_max_tokens": 80,
        }
    )
    qa = NewsQA(sample_runtime, answerer=LLMAnswerer(settings))
    answer = qa.ask(query)
    print(f"\n{query.question}\n -> refused={answer.refused} {answer.answer[:300]!r} citations={len(answer.citations)}")
    assert answer.answer.strip()
    assert_valid(answer, sample_runtime)
