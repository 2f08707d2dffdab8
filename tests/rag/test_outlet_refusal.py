"""A question about what an outlet reported, when no stored article is from that outlet: a refusal that
names it, on both answer paths, without asking the LLM; and a yes/no question gets each source's evidence."""

from __future__ import annotations

from rag.answer.llm import LLMAnswerer
from rag.chain import NewsQA
from rag.models import Query
from rag.runtime import Runtime
from tests.support.scripted_chat import ScriptedChat

ABOUT_REUTERS = "What did a Reuters report say about how much Microsoft has invested in OpenAI?"
ABOUT_TECH_TIMES = "What did the Tech Times article say about how much Microsoft has invested in OpenAI?"


def test_an_outlet_with_no_stored_article_is_refused_by_name(sample_runtime: Runtime) -> None:
    answer = NewsQA(sample_runtime).ask(Query(question=ABOUT_REUTERS))
    assert answer.refused and answer.refusal_reason == "not_in_sources"
    assert "Reuters" in answer.answer and not answer.citations
    assert "The closest articles were" in answer.answer  # still says where to look


def test_a_stored_outlet_is_answered(sample_runtime: Runtime) -> None:
    answer = NewsQA(sample_runtime).ask(Query(question=ABOUT_TECH_TIMES))
    assert not answer.refused, answer.answer
    assert any(c.source == "Tech Times" for c in answer.citations)


def test_the_llm_is_not_asked_about_an_outlet_it_cannot_have(sample_runtime: Runtime) -> None:
    model = ScriptedChat()  # no reply queued: a call would fail the test
    answer = NewsQA(sample_runtime, answerer=LLMAnswerer(sample_runtime.settings, chat_model=model)).ask(
        Query(question=ABOUT_REUTERS)
    )
    assert answer.refused and answer.refusal_reason == "not_in_sources" and "Reuters" in answer.answer
    assert model.prompts == []


def test_a_yes_no_question_shows_each_sources_evidence(sample_runtime: Runtime) -> None:
    answer = NewsQA(sample_runtime).ask(
        Query(question="Did the Federal Reserve cut interest rates by half a percentage point in September 2024?")
    )
    assert not answer.refused
    assert answer.answer.startswith("Evidence, source by source:")
    assert answer.short_answer is None  # no pretended verdict
    assert any("half a percentage point" in c.quote for c in answer.citations)
