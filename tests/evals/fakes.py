"""A scripted stand-in for `rag.chain.NewsQA`: real store, trivial logic, so runner tests do not depend
on the answering code. Dense retrieval; the answer quotes the first sentence of the best chunk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rag.catalog import ArticleFilter
from rag.models import Answer, Citation, Hit, Query, SourceRef
from rag.text import sentence_spans


@dataclass
class FakeQA:
    runtime: Any
    refuse_below: float = 0.2
    corrupt_quotes: bool = False
    refuse: Callable[[Query], bool] | None = None
    fail_on: str | None = None  # raise when the question contains this text
    asked: list[Query] = field(default_factory=list)

    def retrieve(self, query: Query, k: int) -> list[Hit]:
        store, embedder = self.runtime.store, self.runtime.embedder
        flt = ArticleFilter(
            sources=query.sources,
            since_ts=int(query.since.timestamp()) if query.since else None,
            until_ts=int(query.until.timestamp()) if query.until else None,
            article_ids=query.article_ids,
        )
        if store.catalog.count(flt) == 0:
            return []
        matches = store.vectors.query(embedder.embed_query(query.question), flt, k)
        chunks = store.catalog.chunks_of([mt.chunk_id for mt in matches])
        articles = store.catalog.get_many(list({mt.article_id for mt in matches}))
        hits = []
        for mt in matches:
            c, a = chunks[mt.chunk_id], articles[mt.article_id]
            hits.append(Hit.of(a, c.chunk_id, c.index, c.start, c.end, score=mt.similarity))
        return hits

    def ask(self, query: Query) -> Answer:
        self.asked.append(query)
        if self.fail_on and self.fail_on in query.question:
            raise RuntimeError("scripted failure")
        hits = self.retrieve(query, 4)
        sources = tuple(SourceRef.of(h) for h in hits)
        timings = {"retrieve": 1.0, "answer": 1.0, "total": 2.0}
        if not hits or hits[0].score < self.refuse_below or (self.refuse and self.refuse(query)):
            return Answer(
                question=query.question,
                answer="The sources do not answer this.",
                refused=True,
                refusal_reason="no_relevant_sources",
                sources=sources,
                timings_ms=timings,
            )
        best = hits[0]
        start, end = next((s + best.start, e + best.start) for s, e in sentence_spans(best.text))
        body = self.runtime.store.catalog.get(best.article_id).body
        quote = body[start:end] + (" (edited)" if self.corrupt_quotes else "")
        citation = Citation.of(best, 1, quote, start, end, support_score=1.0, supported=True)
        return Answer(
            question=query.question,
            answer=f"{body[start:end]} [1]",
            citations=(citation,),
            sources=sources,
            timings_ms=timings,
        )


def fake_factory(**kwargs: Any):  # type: ignore[no-untyped-def]
    return lambda runtime: FakeQA(runtime, **kwargs)


def refuse_tour(query: Query) -> bool:
    """For the tiny suite in conftest.py: refuse its one unanswerable question."""
    return "Tour de France" in query.question
