"""README: "each citation's quote is the sentence of the cited chunk that best supports the claim, found
verbatim in the article body at start:end; weak support is flagged `supported: false`".

The supporting sentence is never the first one of its chunk here, so "best" cannot pass as "first";
chunks start inside their article, so offsets are checked against the whole body.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.validate import RawArticle, validate
from rag.answer.llm import LLMAnswerer
from rag.chain import NewsQA
from rag.citations import SupportScorer, verify
from rag.embeddings import Embedder
from rag.models import Hit, Query
from rag.runtime import Runtime
from rag.sentences import EmbeddedSentences
from rag.settings import Settings
from rag.store import make_store
from tests.support.fake_llm import FakeLLM

LEAD = "Editor's note: this story was updated on Friday morning. "
BRIDGE = (
    "The city council met on Monday evening to discuss several projects. "
    "Residents raised concerns about parking near the old market. "
    "The new harbour bridge will cost $2 billion, the council said. "
    "Construction is expected to start next spring."
)
FERRY = (
    "Passengers waited in the rain at the north pier on Tuesday. "
    "The operator apologised for the delays. "
    "The island ferry will run until midnight from May, the operator announced. "
    "Tickets go on sale next week."
)
BODIES = {"bridge": LEAD + BRIDGE, "ferry": LEAD + FERRY}


def chunk_hit(article: str) -> Hit:
    """The article's second "chunk": everything after the lead sentence."""
    body = BODIES[article]
    start = len(LEAD)
    return Hit(
        chunk_id=f"{article}:0001",
        article_id=article,
        index=1,
        start=start,
        end=len(body),
        text=body[start:],
        title=f"{article.title()} news",
        source="Harbour Herald" if article == "bridge" else "Island Times",
        url=f"https://example.test/{article}",
        published_at=datetime(2025, 3, 3, tzinfo=UTC),
    )


HITS = [chunk_hit("bridge"), chunk_hit("ferry")]


@pytest.fixture(scope="module")
def scorer(embedder: Embedder) -> SupportScorer:
    return SupportScorer(EmbeddedSentences(embedder), embedder)


@pytest.mark.parametrize(
    ("claim", "article", "expected"),
    [
        ("The harbour bridge will cost $2 billion [1].", "bridge", "The new harbour bridge will cost $2 billion"),
        ("Building work on the bridge starts next spring [1].", "bridge", "Construction is expected to start"),
        ("The ferry will run until midnight from May [2].", "ferry", "The island ferry will run until midnight"),
        ("Ferry tickets go on sale next week [2].", "ferry", "Tickets go on sale next week."),
    ],
)
def test_the_quote_is_the_best_sentence_not_the_first(
    scorer: SupportScorer, claim: str, article: str, expected: str
) -> None:
    result = verify(claim, HITS, scorer, auto_cite=False)
    (citation,) = result.citations
    assert citation.article_id == article
    assert citation.quote.startswith(expected), citation.quote
    assert BODIES[article][citation.start : citation.end] == citation.quote
    assert citation.supported


def test_each_citation_of_a_two_source_answer_quotes_its_own_best_sentence(scorer: SupportScorer) -> None:
    answer = "Ferry tickets go on sale next week [2]. The harbour bridge will cost $2 billion [1]."
    result = verify(answer, HITS, scorer, auto_cite=False)
    assert [(c.n, c.article_id) for c in result.citations] == [(1, "ferry"), (2, "bridge")]
    assert result.citations[0].quote == "Tickets go on sale next week."
    assert result.citations[1].quote == "The new harbour bridge will cost $2 billion, the council said."
    assert all(BODIES[c.article_id][c.start : c.end] == c.quote for c in result.citations)


@pytest.mark.parametrize(
    ("claim", "supported"),
    [
        ("The harbour bridge will cost $2 billion [1].", True),
        ("Construction of the bridge is expected to start next spring [1].", True),
        ("The island ferry will run until midnight from May [1].", False),  # true, but not in source 1
        ("The Eiffel Tower was painted green in 1889 [1].", False),
        ("Nvidia reported record quarterly revenue [2].", False),
        ("The island ferry will run until midnight from May [2].", True),
    ],
)
def test_weak_support_is_flagged(scorer: SupportScorer, claim: str, supported: bool) -> None:
    result = verify(claim, HITS, scorer, auto_cite=False)
    (citation,) = result.citations
    assert citation.supported is supported, (citation.support_score, citation.quote)
    assert result.unsupported == (0 if supported else 1)
    assert BODIES[citation.article_id][citation.start : citation.end] == citation.quote


# ---------- end to end: ingested articles, the extractive answerer and a (scripted) model ----------


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Runtime]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("harbour") / "data")
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    raws = [
        RawArticle(
            title=f"{name.title()} news",
            body=body,
            url=f"https://example.test/{name}",
            source="Harbour Herald" if name == "bridge" else "Island Times",
            published_at="2025-03-03",
        )
        for name, body in BODIES.items()
    ]
    items = [LoadedItem("harbour", str(i), article=validate(r, settings.max_article_chars)) for i, r in enumerate(raws)]
    assert ingest(items, rt.store, rt.embedder, settings).added == 2
    yield rt
    rt.close()


def assert_verbatim(rt: Runtime, citations: Any) -> None:
    for c in citations:
        article = rt.store.catalog.get(c.article_id)
        assert article is not None and c.quote and article.body[c.start : c.end] == c.quote


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("How much will the new harbour bridge cost?", "$2 billion"),
        ("Until what time of night will the island ferry run?", "until midnight"),
    ],
)
def test_extractive_answers_quote_the_sentence_that_holds_the_fact(harbour: Runtime, question: str, fact: str) -> None:
    qa = NewsQA(harbour)
    try:
        answer = qa.ask(Query(question=question))
    finally:
        qa.close()
    assert not answer.refused, answer.answer
    assert answer.citations
    assert any(fact in c.quote for c in answer.citations), [c.quote for c in answer.citations]
    assert_verbatim(harbour, answer.citations)


@pytest.mark.integration
def test_a_model_citing_the_wrong_source_gets_supported_false(harbour: Runtime, fake_llm: FakeLLM) -> None:
    """Two articles, both retrieved: a claim marked with both passages is supported by one only."""
    settings = harbour.settings.model_copy(
        update={
            "llm_model": "scripted",
            "openai_base_url": fake_llm.base_url,
            "openai_api_key": SecretStr("test"),
            "answerer": "openai",
            "llm_timeout": 5.0,
            "llm_max_retries": 0,
            "top_k": 2,
        }
    )
    qa = NewsQA(harbour, answerer=LLMAnswerer(settings))
    fake_llm.queue_text("The harbour bridge will cost $2 billion [1][2].")
    try:
        answer = qa.ask(Query(question="How much will the new harbour bridge cost?"))
    finally:
        qa.close()
    assert not answer.refused, answer.answer
    flags = {c.article_id: c.supported for c in answer.citations}
    bridge_id = next(c.article_id for c in answer.citations if "harbour bridge" in c.quote)
    assert flags.pop(bridge_id) is True
    assert list(flags.values()) == [False], answer.citations
    assert_verbatim(harbour, answer.citations)
