"""The question-answering chain: condense → retrieve → answer → verify citations.

Composed from langchain-core runnables (`NewsQA.as_runnable()`), and also exposed as plain methods:
`ask(query) -> Answer` and `stream(query) -> Iterator[StreamEvent]`. Every answer, from either
answerer, passes through the same verification before anyone sees it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from langchain_core.runnables import Runnable, RunnableLambda

from rag.answer.base import AnswerContext, Answerer, Draft
from rag.answer.extractive import ExtractiveAnswerer
from rag.citations import SupportScorer, verify
from rag.dates import describe_age
from rag.embeddings import CachingEmbedder
from rag.models import (
    Answer,
    CitationEvent,
    DoneEvent,
    Hit,
    Query,
    SourceRef,
    SourcesEvent,
    StreamEvent,
    TokenEvent,
)
from rag.retrieve import Retrieval, Retriever
from rag.runtime import Runtime


def make_answerer(runtime: Runtime) -> Answerer:
    """The extractive answerer unless an LLM is configured (or forced with NEWSRAG_ANSWERER)."""
    if runtime.settings.use_llm:
        from rag.answer.llm import LLMAnswerer

        return LLMAnswerer(runtime.settings)
    return ExtractiveAnswerer(runtime.sentences, runtime.embedder)


def _refs(hits: list[Hit]) -> tuple[SourceRef, ...]:
    return tuple(
        SourceRef(
            article_id=h.article_id,
            chunk_id=h.chunk_id,
            title=h.title,
            source=h.source,
            url=h.url,
            published_at=h.published_at,
            score=round(h.score, 6),
        )
        for h in hits
    )


class NewsQA:
    def __init__(self, runtime: Runtime, answerer: Answerer | None = None, retriever: Retriever | None = None) -> None:
        self.runtime = runtime
        self.answerer = answerer or make_answerer(runtime)
        self.retriever = retriever or Retriever(runtime.store, runtime.embedder, runtime.settings)
        # Sentence vectors from the runtime; only an LLM's paraphrased claims are embedded here.
        self.scorer = SupportScorer(runtime.sentences, CachingEmbedder(runtime.embedder))

    @property
    def mode(self) -> str:
        return self.answerer.mode

    def close(self) -> None:
        """Stop the retriever's worker threads; the runtime belongs to whoever opened it."""
        self.retriever.close()

    def retrieve(self, query: Query, k: int | None = None) -> list[Hit]:
        return self.retriever.retrieve(query, k).hits

    def ask(self, query: Query) -> Answer:
        for event in self.stream(query):
            if isinstance(event, DoneEvent):
                return event.answer
        raise AssertionError("stream ended without a done event")  # pragma: no cover

    def stream(self, query: Query) -> Iterator[StreamEvent]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        as_of = query.as_of or datetime.now(UTC)

        standalone = query.question
        if query.history:
            standalone = self.answerer.condense(query.question, query.history)
            timings["condense"] = _ms(started)

        mark = time.perf_counter()
        retrieval = self.retriever.retrieve(query, query.k, text=standalone)
        timings["retrieve"] = _ms(mark)
        hits = retrieval.hits
        yield SourcesEvent(sources=_refs(hits))

        base = {
            "question": query.question,
            "standalone_question": standalone if query.history else None,
            "sources": _refs(hits),
            "mode": self.answerer.mode,
        }
        if not hits:
            answer = Answer(**{**base, **self._no_hits(retrieval, query)}, timings_ms=timings)
            yield DoneEvent(answer=answer.model_copy(update={"timings_ms": {**timings, "total": _ms(started)}}))
            return

        mark = time.perf_counter()
        draft: Draft | None = None
        context = AnswerContext(
            standalone, hits, as_of, recency=retrieval.plan.cues.recency, query_vector=retrieval.query_vector
        )
        for piece in self.answerer.run(context):
            if isinstance(piece, Draft):
                draft = piece
            else:
                yield TokenEvent(text=piece)
        assert draft is not None, "answerer ended without a draft"
        timings["answer"] = _ms(mark)

        mark = time.perf_counter()
        answer = self._finish(query, base, draft, hits, as_of, retrieval)
        timings["verify"] = _ms(mark)
        for citation in answer.citations:
            yield CitationEvent(citation=citation)
        timings["total"] = _ms(started)
        yield DoneEvent(answer=answer.model_copy(update={"timings_ms": timings}))

    def _no_hits(self, retrieval: Retrieval, query: Query) -> dict:
        """Why nothing was found: an empty store, a date window with nothing in it, or no match at all;
        in the date case the closest sources outside the window are still listed."""
        if self.runtime.store.catalog.count() == 0:
            return {
                "answer": "No articles have been ingested yet.",
                "refused": True,
                "refusal_reason": "empty_store",
            }
        flt = retrieval.plan.flt
        if flt.since_ts is not None or flt.until_ts is not None:
            wider = Query(question=retrieval.plan.text, sources=query.sources, article_ids=query.article_ids)
            closest = self.retriever.retrieve(wider, 3, date_cues_on=False).hits
            window = _describe_window(flt.since_ts, flt.until_ts)
            return {
                "answer": f"No articles were published {window}.",
                "refused": True,
                "refusal_reason": "no_sources_in_date_range",
                "sources": _refs(closest),
            }
        return {
            "answer": "No articles match this question.",
            "refused": True,
            "refusal_reason": "no_relevant_sources",
        }

    def _finish(
        self, query: Query, base: dict, draft: Draft, hits: list[Hit], as_of: datetime, retrieval: Retrieval
    ) -> Answer:
        flt = retrieval.plan.flt
        if draft.refused and (flt.since_ts is not None or flt.until_ts is not None):
            # Nothing inside the window answers: say so, and show what lies outside it.
            outside = self._no_hits(retrieval, query)
            if outside["refusal_reason"] == "no_sources_in_date_range":
                outside["answer"] = outside["answer"].replace("No articles were", "No articles I have were")
                return Answer(**{**base, **outside})
        if draft.refused:
            closest = ", ".join(
                f"{h.source or h.title} ({h.published_at:%Y-%m-%d})" if h.published_at else (h.source or h.title)
                for h in hits[:3]
            )
            text = "I could not find an answer to this question in the articles I have."
            if closest:
                text += f" The closest articles were: {closest}."
            return Answer(**base, answer=text, refused=True, refusal_reason=draft.refusal_reason)
        verified = verify(draft.text, hits, self.scorer)
        if not verified.citations:
            # Nothing the answer says could be tied to a retrieved source: do not present it as grounded.
            return Answer(
                **base,
                answer="I could not find a sourced answer to this question.",
                refused=True,
                refusal_reason="no_relevant_sources",
                removed_markers=verified.removed,
            )
        dated = [c.published_at for c in verified.citations if c.published_at]
        newest = max(dated) if dated else None
        text = verified.text
        if newest is not None:
            age = describe_age(newest, as_of)
            text += f"\n\n(Newest source cited: {newest:%Y-%m-%d}, {age} before {as_of:%Y-%m-%d}.)"
        return Answer(
            **base,
            answer=text,
            citations=verified.citations,
            conflicts=draft.conflicts,
            newest_source_at=newest,
            removed_markers=verified.removed,
        )

    def as_runnable(self) -> Runnable:
        """The whole pipeline as one LangChain runnable (`invoke(Query) -> Answer`), for callers that
        compose runnables; the LLM step inside it is itself prompt | ChatOpenAI | parser."""
        return RunnableLambda(self.ask, name="newsrag")


def _describe_window(since_ts: int | None, until_ts: int | None) -> str:
    def day(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")

    if since_ts is not None and until_ts is not None:
        return f"between {day(since_ts)} and {day(until_ts)} that match this question"
    if since_ts is not None:
        return f"since {day(since_ts)} that match this question"
    return f"up to {day(until_ts or 0)} that match this question"


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def make_qa(runtime: Runtime) -> NewsQA:
    return NewsQA(runtime)
