"""Markers renumbered as a stream arrives, and final citations that keep the numbers the reader saw."""

from __future__ import annotations

from datetime import UTC, datetime

from rag.citations import StreamMarkers, SupportScorer, renumber, verify
from rag.embeddings import Embedder
from rag.models import Hit
from rag.sentences import EmbeddedSentences

BODY_A = "Microsoft has invested $13 billion in OpenAI since 2019. The deal was signed on Thursday."
BODY_B = "Nvidia reported record revenue of $44.1 billion. Its shares rose 4% after hours."


def _hit(n: int, body: str) -> Hit:
    return Hit(
        chunk_id=f"a{n}:0000",
        article_id=f"a{n}",
        index=0,
        start=0,
        end=len(body),
        text=body,
        title=f"Title {n}",
        source=f"Outlet {n}",
        published_at=datetime(2025, 9, 12, tzinfo=UTC),
    )


def test_markers_renumber_as_streamed() -> None:
    live = StreamMarkers(n_sources=3)
    pieces = ["Microsoft invested", " $13 billion [", "3]. It added", " [1, 9] more", " (Source 3)."]
    out = "".join(live.feed(p) for p in pieces) + live.flush()
    assert out == "Microsoft invested $13 billion [1]. It added [2] more [1]."
    assert live.order == [3, 1]


def test_a_marker_split_across_pieces_is_held_until_it_closes() -> None:
    live = StreamMarkers(n_sources=2)
    assert live.feed("It rose [") == "It rose "
    assert live.feed("2") == ""
    assert live.feed("] today.") == "[1] today."


def test_renumber_keeps_the_numbers_already_shown() -> None:
    assert renumber("A [2]. B [1].") == ("A [1]. B [2].", [2, 1])
    assert renumber("A [2]. B [1].", shown=[1, 2]) == ("A [2]. B [1].", [1, 2])


def test_every_shown_passage_gets_a_real_quote(embedder: Embedder) -> None:
    """A passage the stream showed keeps its number and gets a verbatim quote even if the final text lost
    its marker (then flagged unsupported), never an empty placeholder."""
    hits = [_hit(1, BODY_A), _hit(2, BODY_B)]
    result = verify(
        "Microsoft has invested $13 billion in OpenAI [1].",
        hits,
        SupportScorer(EmbeddedSentences(embedder), embedder),
        shown=[2, 1],
    )
    assert [c.n for c in result.citations] == [1, 2]
    assert result.text == "Microsoft has invested $13 billion in OpenAI [2]."
    nvidia, microsoft = result.citations
    assert nvidia.article_id == "a2" and not nvidia.supported
    assert nvidia.quote and BODY_B[nvidia.start : nvidia.end] == nvidia.quote
    assert microsoft.article_id == "a1" and microsoft.supported
    assert BODY_A[microsoft.start : microsoft.end] == microsoft.quote
