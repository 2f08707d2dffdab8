"""An LLM judge for answers, used only when an LLM is configured (`--judge`, NEWSRAG_LLM_MODEL set).

It asks the model whether the answer states the expected answer (or, for a question the sources cannot
answer, whether it declines). The verdict is one word, CORRECT or INCORRECT; anything else counts as
no verdict (None), so a poor model lowers the coverage of the judge, never the score by accident.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

from evals.metrics import strip_markers
from evals.suites.model import SuiteItem

if TYPE_CHECKING:
    from rag.settings import Settings

PROMPT = """You grade answers to questions about news articles.
Question: {question}
Expected answer: {expected}
Answer to grade: {answer}

Does the answer to grade give the expected answer (wording may differ; extra correct detail is fine)?
Reply with exactly one word: CORRECT or INCORRECT."""
REFUSAL_EXPECTED = "The question cannot be answered from the articles; a correct answer says so."
_VERDICT = re.compile(r"\b(INCORRECT|CORRECT)\b")


class JudgeModel(Protocol):
    """What the judge needs of a LangChain chat model (ChatOpenAI, or a scripted one in tests)."""

    def invoke(self, input: str, /) -> Any: ...


def make_judge_model(settings: Settings) -> JudgeModel:
    """The answerer's ChatOpenAI, at temperature 0 (a verdict, not prose)."""
    from rag.answer.llm import chat_openai

    return chat_openai(settings, temperature=0)


def parse_verdict(text: str) -> bool | None:
    match = _VERDICT.search(text.upper())
    if match is None:
        return None
    return match.group(1) == "CORRECT"


def judge(model: JudgeModel, item: SuiteItem, answer_text: str) -> bool | None:
    """True / False from the model's verdict; None when it gave none or failed."""
    if item.should_refuse:
        expected = REFUSAL_EXPECTED
    else:
        parts = [" or ".join(item.answer)] if item.answer else []
        parts += [f"must mention {' or '.join(group)}" for group in item.must_include]
        expected = "; ".join(parts)
    prompt = PROMPT.format(question=item.question, expected=expected, answer=strip_markers(answer_text).strip())
    try:
        reply = model.invoke(prompt)
    except Exception:  # a judge failure is a missing verdict, not a failed eval
        return None
    content = getattr(reply, "content", reply)
    return parse_verdict(content if isinstance(content, str) else str(content))
