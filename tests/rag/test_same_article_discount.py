"""Diversifying the hits discounts a further chunk of an article already chosen, so one long article cannot
fill the context; the discount must stay small enough that an article whose two chunks are both the best
matches keeps both when k allows, rather than giving the second place to a much weaker hit elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.validate import RawArticle, validate
from rag.embeddings import Embedder
from rag.models import Query
from rag.retrieve import Retriever
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store

QUESTION = "Why did the Quillon ferry stop running?"
# Small chunks so this article is two: the news, then the ferry's history (both about the Quillon ferry).
FERRY = (
    "Islanders on Quillon have had no ferry since March, when inspectors found a crack in the hull of the only "
    "boat. A replacement vessel is not expected before the autumn. "
    "Quillon ferry history: the first Quillon ferry was a sail boat; the Quillon ferry society, founded by "
    "Quillon families, keeps old Quillon ferry tickets and Quillon ferry timetables in a small museum by the church."
)
# Coastal news that shares none of the question's words: related, but weakly.
COAST = [
    "A cargo ship waited outside the harbour for two days while a storm passed.",
    "Dock workers repaired a damaged pier on the mainland coast last week.",
    "The coastguard towed a fishing boat whose engine had failed near the rocks.",
    "Sailing lessons for children begin again at the marina in June.",
    "A new lifeboat station opened on the northern shore with a larger crew.",
    "Passengers on the night bus to the coast complained about delays.",
    "The island council debated the cost of a new bridge to the mainland.",
    "Storms damaged several boats moored in the old harbour overnight.",
    "The port authority raised mooring fees for visiting yachts.",
    "A canal barge service between the two towns was suspended for repairs.",
]


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[Retriever, str]]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("discount") / "data",
        chunk_size=64,
        chunk_overlap=0,
        top_k=2,
    )
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    ferry = validate(
        RawArticle(
            title="Island notes",
            body=FERRY,
            url="https://example.test/ferry",
            source="Island Post",
            published_at="2025-04-01",
        ),
        settings.max_article_chars,
    )
    items = [LoadedItem("discount", "ferry", article=ferry)]
    for i, body in enumerate(COAST):
        raw = RawArticle(
            title="Coast roundup",
            body=body,
            url=f"https://example.test/coast/{i}",
            source="Coast Wire",
            published_at="2025-04-02",
        )
        items.append(LoadedItem("discount", f"coast-{i}", article=validate(raw, settings.max_article_chars)))
    report = ingest(items, rt.store, rt.embedder, settings)
    assert report.added == len(items) and report.chunks == len(items) + 1  # the ferry article is two chunks
    retriever = Retriever(rt.store, rt.embedder, settings)
    yield retriever, ferry.id
    retriever.close()
    rt.close()


def test_both_chunks_of_the_best_article_fill_a_small_k(harbour: tuple[Retriever, str]) -> None:
    retriever, ferry = harbour
    everything = retriever.retrieve(Query(question=QUESTION), k=20).hits
    # the premise: the ferry article's two chunks are the two best matches, every other hit much weaker
    assert [h.article_id for h in everything[:2]] == [ferry, ferry]
    second = everything[1]
    assert second.similarity is not None
    assert all(h.similarity is not None and h.similarity < second.similarity - 0.1 for h in everything[2:])

    hits = retriever.retrieve(Query(question=QUESTION)).hits  # top_k = 2
    assert [(h.article_id, h.index) for h in hits] == [(ferry, 0), (ferry, 1)]


def test_at_most_max_chunks_per_article_still_holds(harbour: tuple[Retriever, str]) -> None:
    retriever, ferry = harbour
    settings = retriever.settings.model_copy(update={"max_chunks_per_article": 1})
    limited = Retriever(retriever.store, retriever.embedder, settings)
    try:
        hits = limited.retrieve(Query(question=QUESTION)).hits
    finally:
        limited.close()
    assert [h.article_id for h in hits].count(ferry) == 1 and len(hits) == 2
