"""Follow-ups condensed without an LLM, on hand-made conversations; and through the chain over samples/."""

from __future__ import annotations

import pytest

from rag.chain import NewsQA
from rag.followup import condense
from rag.models import ChatTurn, Query
from rag.runtime import Runtime


def turns(*pairs: str) -> tuple[ChatTurn, ...]:
    return tuple(ChatTurn(role="user" if i % 2 == 0 else "assistant", content=t) for i, t in enumerate(pairs))


MSFT = turns("How much has Microsoft invested in OpenAI?", "Tech Times (2025-09-12): “... $13 billion ...” [1]")


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        (MSFT, "And in 2024?", "How much has Microsoft invested in OpenAI in 2024?"),
        (
            MSFT,
            "And which other AI company did Microsoft talk to?",
            "Which AI company other than OpenAI did Microsoft talk to?",
        ),
        (
            turns("What did Microsoft and OpenAI announce in September 2025?", "A memorandum [1]."),
            "How much has it invested in OpenAI so far?",
            "How much has Microsoft invested in OpenAI so far?",
        ),
        (
            turns("Which company first reached a $4 trillion market value?", "Nvidia, in July 2025 [1]."),
            "What revenue did the company report?",
            "What revenue did Nvidia report?",
        ),
        (
            turns("What did Microsoft and OpenAI sign?", "A definitive agreement [1]."),
            "When did they sign it?",
            "When did Microsoft and OpenAI sign it?",
        ),
        (
            turns("Who was named MVP of Super Bowl LIX?", "Jalen Hurts [1]."),
            "How many yards did he pass for?",
            "How many yards did Jalen Hurts pass for?",
        ),
        (
            MSFT,
            "What did the Federal Reserve decide in September 2024?",
            "What did the Federal Reserve decide in September 2024?",
        ),
    ],
)
def test_condense_resolves_references(history: tuple[ChatTurn, ...], question: str, expected: str) -> None:
    assert condense(question, history) == expected


def test_no_history_leaves_the_question_alone() -> None:
    assert condense("And in 2024?", ()) == "And in 2024?"


def test_follow_up_about_another_company_quotes_it(sample_runtime: Runtime) -> None:
    answer = NewsQA(sample_runtime).ask(
        Query(question="And which other AI company did Microsoft talk to?", history=MSFT)
    )
    assert answer.standalone_question == "Which AI company other than OpenAI did Microsoft talk to?"
    assert not answer.refused and "Anthropic" in answer.answer
