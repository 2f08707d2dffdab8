"""Citation parsing, normalisation, renumbering and grounding, on hand-made hits with the real model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rag.citations import SupportScorer, claims, normalise_markers, renumber, verify
from rag.models import Hit
from rag.sentences import EmbeddedSentences

BODY_A = (
    "Microsoft has invested $13 billion in OpenAI since 2019. "
    "The two companies signed a non-binding memorandum of understanding on Thursday."
)
BODY_B = "Nvidia reported record revenue of $44.1 billion for the quarter. Its shares rose 4% after hours."


def hit(n: int, body: str, source: str) -> Hit:
    return Hit(
        chunk_id=f"a{n}:0000",
        article_id=f"a{n}",
        index=0,
        start=0,
        end=len(body),
        text=body,
        title=f"Title {n}",
        source=source,
        url=f"https://example.com/{n}",
        published_at=datetime(2025, 9, 12, tzinfo=UTC),
    )


HITS = [hit(1, BODY_A, "Tech Times"), hit(2, BODY_B, "Market Signal")]
BODIES = {"a1": BODY_A, "a2": BODY_B}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A fact [1].", "A fact [1]."),
        ("A fact [1, 2].", "A fact [1][2]."),
        ("A fact [1][2].", "A fact [1][2]."),
        ("A fact [Source 2].", "A fact [2]."),
        ("A fact [sources: 1, 2].", "A fact [1][2]."),
        ("A fact (1).", "A fact [1]."),
        ("A fact (Source 2).", "A fact [2]."),
        ("A fact [^1].", "A fact [1]."),
        ("A fact 【2】.", "A fact [2]."),
        ("A fact [1-2].", "A fact [1][2]."),
        ("A fact. [1]", "A fact [1]."),
        ("A fact.[2]", "A fact [2]."),
        ("In (2023) nothing changed.", "In (2023) nothing changed."),
    ],
)
def test_marker_forms_are_normalised(raw: str, expected: str) -> None:
    assert normalise_markers(raw, 2).text == expected


def test_markers_naming_no_retrieved_source_are_removed_and_counted() -> None:
    result = normalise_markers("First [1]. Second [9]. Third [2, 7].", 2)
    assert result.text == "First [1]. Second. Third [2]."
    assert result.removed == 2


def test_renumbering_runs_one_to_n_in_order_of_appearance() -> None:
    text, order = renumber("B [2]. A [1]. B again [2].")
    assert text == "B [1]. A [2]. B again [1]."
    assert order == [2, 1]


def test_claims_keep_their_markers() -> None:
    assert claims("Microsoft invested $13 billion [1]. Shares rose [2][1].") == [
        ("Microsoft invested $13 billion.", [1]),
        ("Shares rose.", [2, 1]),
    ]


def test_verified_citations_are_verbatim_and_point_at_the_best_sentence(embedder) -> None:
    answer = "Nvidia's quarterly revenue hit $44.1 billion [2]. Microsoft put $13 billion into OpenAI [1]."
    result = verify(answer, HITS, SupportScorer(EmbeddedSentences(embedder), embedder))
    assert result.text == "Nvidia's quarterly revenue hit $44.1 billion [1]. Microsoft put $13 billion into OpenAI [2]."
    assert [c.n for c in result.citations] == [1, 2]
    assert [c.article_id for c in result.citations] == ["a2", "a1"]
    for citation in result.citations:
        assert BODIES[citation.article_id][citation.start : citation.end] == citation.quote
        assert citation.supported
    assert result.citations[0].quote == "Nvidia reported record revenue of $44.1 billion for the quarter."
    assert result.citations[1].quote == "Microsoft has invested $13 billion in OpenAI since 2019."


def test_a_claim_its_source_does_not_support_is_marked_unsupported(embedder) -> None:
    result = verify(
        "The Eiffel Tower was painted green in 1889 [2].",
        HITS,
        SupportScorer(EmbeddedSentences(embedder), embedder),
        auto_cite=False,
    )
    assert len(result.citations) == 1
    assert not result.citations[0].supported
    assert result.unsupported == 1


def test_an_uncited_claim_gets_the_source_that_clearly_supports_it(embedder) -> None:
    result = verify(
        "Microsoft has invested $13 billion in OpenAI since 2019.",
        HITS,
        SupportScorer(EmbeddedSentences(embedder), embedder),
    )
    assert result.text == "Microsoft has invested $13 billion in OpenAI since 2019 [1]."
    assert result.citations[0].article_id == "a1"


def test_no_markers_and_no_support_gives_no_citations(embedder) -> None:
    result = verify(
        "The weather in Lisbon is pleasant in spring.", HITS, SupportScorer(EmbeddedSentences(embedder), embedder)
    )
    assert result.citations == ()
    assert result.text == "The weather in Lisbon is pleasant in spring."


def test_of_two_quoted_sentences_of_one_passage_the_one_holding_the_short_answer_is_its_quote(embedder) -> None:
    answer = (
        "“Nvidia reported record revenue of $44.1 billion for the quarter.” [2]\n“Its shares rose 4% after hours.” [2]"
    )
    scorer = SupportScorer(EmbeddedSentences(embedder), embedder)
    assert verify(answer, HITS, scorer).citations[0].quote.startswith("Nvidia reported")
    preferred = verify(answer, HITS, scorer, prefer="4%").citations[0]
    assert preferred.quote == "Its shares rose 4% after hours." and preferred.supported
