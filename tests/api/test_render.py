"""Answers rendered for people from the Answer's fields: the same for the CLI and the chat reply."""

from __future__ import annotations

from datetime import UTC, datetime

from api.cli import format_answer
from api.render import render, strip_rendered
from rag.models import Answer, Citation, ShortAnswer, SourceRef

WHEN = datetime(2025, 9, 12, tzinfo=UTC)
QUOTE = "Microsoft has invested $13 billion in OpenAI since 2019."
CITATION = Citation(
    n=1,
    article_id="a1",
    chunk_id="a1:0000",
    title="OpenAI, Microsoft sign deal",
    source="Tech Times",
    url="https://example.com/deal/",
    published_at=WHEN,
    quote=QUOTE,
    start=0,
    end=len(QUOTE),
    support_score=0.9,
)
ANSWER = Answer(
    question="How much has Microsoft invested in OpenAI?",
    answer=f"Tech Times (2025-09-12): “{QUOTE}” [1]",
    short_answer=ShortAnswer(text="$13 billion", citation=1),
    citations=(CITATION,),
    newest_source_at=WHEN,
    as_of=datetime(2025, 9, 15, tzinfo=UTC),
)


def test_short_answer_leads_then_text_age_and_sources() -> None:
    lines = render(ANSWER).splitlines()
    assert lines[0] == "$13 billion [1]"
    assert lines[2] == ANSWER.answer
    assert "(Newest source cited: 2025-09-12, 3 days before 2025-09-15.)" in lines
    assert lines[-2:] == [
        "Sources:",
        "[1] OpenAI, Microsoft sign deal — Tech Times, 2025-09-12, https://example.com/deal/",
    ]


def test_cli_adds_the_quotes_and_weak_flags() -> None:
    weak = ANSWER.model_copy(update={"citations": (CITATION.model_copy(update={"supported": False}),)})
    text = format_answer(weak)
    assert f"    “{QUOTE}”" in text.splitlines()
    assert "(weak support)" in text


def test_a_refusal_lists_the_closest_articles_once_each() -> None:
    ref = SourceRef(article_id="a1", chunk_id="a1:0000", title="Deal", source="Tech Times", published_at=WHEN)
    refusal = Answer(
        question="q",
        answer="No articles match this question.",
        refused=True,
        refusal_reason="no_relevant_sources",
        sources=(ref, ref.model_copy(update={"chunk_id": "a1:0001"})),
    )
    text = render(refusal)
    assert text.splitlines()[0] == "No articles match this question."
    assert text.count("- Deal — Tech Times, 2025-09-12") == 1
    assert "(refused: no_relevant_sources)" in format_answer(refusal)


def test_history_sent_back_loses_what_render_appended() -> None:
    assert strip_rendered(render(ANSWER)) == f"$13 billion [1]\n\n{ANSWER.answer}"
