"""The question-answering chain: condense → retrieve → answer → verify citations.

`NewsQA.ask(query) -> Answer` and `NewsQA.stream(query) -> Iterator[StreamEvent]` are the whole product
path; the API and the CLI call them. Every answer, from either answerer, passes through the same
verification before anyone sees it. Notes for people (how old the newest source is, the short answer's
line) are rendered from the Answer's fields at the edges, never written into the text here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from rag.answer.base import AnswerContext, Answerer, Draft
from rag.answer.extractive import ExtractiveAnswerer
from rag.citations import StreamMarkers, SupportScorer, Verified, verify
from rag.embeddings import CachingEmbedder
from rag.models import (
    Answer,
    CitationEvent,
    DoneEvent,
    Hit,
    Query,
    RefusalReason,
    ShortAnswer,
    SourceRef,
    SourcesEvent,
    StreamEvent,
    TokenEvent,
)
from rag.retrieve import Retrieval, Retriever
from rag.runtime import Runtime
from rag.side_tasks import SideTask, reply

NO_ANSWER = "I could not find an answer to this question in the articles I have."
NO_SOURCED_ANSWER = "I could not find a sourced answer to this question."


def make_answerer(runtime: Runtime) -> Answerer:
    """The extractive answerer unless an LLM is configured (or forced with NEWSRAG_ANSWERER)."""
    if runtime.settings.use_llm:
        from rag.answer.llm import LLMAnswerer

        return LLMAnswerer(runtime.settings)
    return ExtractiveAnswerer(runtime.sentences, runtime.embedder)


def _refs(hits: list[Hit]) -> tuple[SourceRef, ...]:
    return tuple(SourceRef.of(h) for h in hits)


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

    def side_reply(self, task: SideTask) -> str:
        """A chat UI's housekeeping prompt (a title, tags): answered briefly, with no news search."""
        return reply(task, self.answerer.complete)

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

        base = _Base(query, standalone, _refs(hits), self.answerer.mode, as_of)
        if not hits:
            answer = self._no_hits(base, retrieval, query)
            yield DoneEvent(answer=answer.model_copy(update={"timings_ms": {**timings, "total": _ms(started)}}))
            return

        mark = time.perf_counter()
        draft: Draft | None = _unknown_outlets(retrieval.plan.unknown_outlets, hits)
        context = AnswerContext(
            standalone, hits, as_of, recency=retrieval.plan.cues.recency, query_vector=retrieval.query_vector
        )
        markers = StreamMarkers(len(hits))  # tokens carry the numbers the final citations will have
        for piece in self.answerer.run(context) if draft is None else ():
            if isinstance(piece, Draft):
                draft = piece
            elif text := markers.feed(piece):
                yield TokenEvent(text=text)
        if tail := markers.flush():
            yield TokenEvent(text=tail)
        assert draft is not None, "answerer ended without a draft"
        timings["answer"] = _ms(mark)

        mark = time.perf_counter()
        answer = self._finish(base, draft, hits, retrieval, query, markers.order)
        timings["verify"] = _ms(mark)
        for citation in answer.citations:
            yield CitationEvent(citation=citation)
        timings["total"] = _ms(started)
        yield DoneEvent(answer=answer.model_copy(update={"timings_ms": timings}))

    def _no_hits(self, base: _Base, retrieval: Retrieval, query: Query, searched: bool = False) -> Answer:
        """Why nothing was found: an empty store, a date window with nothing in it, or no match at all;
        in the date case the closest sources outside the window are still listed. `searched`: articles
        inside the window were found but did not answer."""
        if self.runtime.store.catalog.count() == 0:
            return base.refusal("No articles have been ingested yet.", "empty_store")
        flt = retrieval.plan.flt
        if flt.since_ts is not None or flt.until_ts is not None:
            wider = Query(question=retrieval.plan.text, sources=query.sources, article_ids=query.article_ids)
            closest = self.retriever.retrieve(wider, 3, date_cues_on=False).hits
            window = _describe_window(flt.since_ts, flt.until_ts)
            subject = "No articles I have were" if searched else "No articles were"
            return base.refusal(f"{subject} published {window}.", "no_sources_in_date_range", _refs(closest))
        return base.refusal("No articles match this question.", "no_relevant_sources")

    def _finish(
        self, base: _Base, draft: Draft, hits: list[Hit], retrieval: Retrieval, query: Query, shown: list[int]
    ) -> Answer:
        cues = retrieval.plan.cues
        # A window the question or the caller set (as_of alone only says what could be known then).
        in_window = any(bound is not None for bound in (query.since, query.until, cues.since, cues.until))
        if draft.refused and in_window and draft.refusal_reason != "not_yet_reportable":
            # Nothing inside the window answers: say so, and show what lies outside it.
            outside = self._no_hits(base, retrieval, query, searched=True)
            if outside.refusal_reason == "no_sources_in_date_range":
                return outside
        if draft.refused:
            closest = ", ".join(
                f"{h.source or h.title} ({h.published_at:%Y-%m-%d})" if h.published_at else (h.source or h.title)
                for h in hits[:3]
            )
            text = draft.text.strip() or NO_ANSWER
            if closest:
                text += f" The closest articles were: {closest}."
            return base.refusal(text, draft.refusal_reason or "no_relevant_sources")
        prefer = draft.short_answer.text if draft.short_answer else None
        verified = verify(draft.text, hits, self.scorer, shown=shown, prefer=prefer)
        if not verified.citations:
            # Nothing the answer says could be tied to a retrieved source: do not present it as grounded.
            return base.refusal(NO_SOURCED_ANSWER, "no_relevant_sources", removed_markers=verified.removed)
        dated = [c.published_at for c in verified.citations if c.published_at]
        return base.answer(
            answer=verified.text,
            short_answer=_short_answer(draft, verified, hits),
            citations=verified.citations,
            conflicts=draft.conflicts,
            newest_source_at=max(dated) if dated else None,
            removed_markers=verified.removed,
            truncated=draft.truncated,
        )


class _Base:
    """What every answer to one query shares, so each outcome states only what is its own."""

    def __init__(
        self, query: Query, standalone: str, sources: tuple[SourceRef, ...], mode: str, as_of: datetime
    ) -> None:
        self.fields: dict[str, Any] = {
            "question": query.question,
            "standalone_question": standalone if query.history else None,
            "sources": sources,
            "mode": mode,
            "as_of": as_of,
        }

    def answer(self, **fields: Any) -> Answer:
        return Answer(**{**self.fields, **fields})

    def refusal(
        self, text: str, reason: RefusalReason, sources: tuple[SourceRef, ...] | None = None, removed_markers: int = 0
    ) -> Answer:
        extra = {} if sources is None else {"sources": sources}
        return self.answer(answer=text, refused=True, refusal_reason=reason, removed_markers=removed_markers, **extra)


def _unknown_outlets(named: tuple[str, ...], hits: list[Hit]) -> Draft | None:
    """The question asks what an outlet reported, and no stored article is from it (nor do the retrieved ones
    mention it): whatever the other sources say, they cannot tell what that outlet reported."""
    missing = [n for n in named if not any(n.lower() in f"{h.title} {h.text}".lower() for h in hits)]
    if not missing:
        return None
    names = " or ".join(missing)
    return Draft(
        f"None of the articles I have is from {names}, which the question asks about.",
        refused=True,
        refusal_reason="not_in_sources",
    )


def _short_answer(draft: Draft, verified: Verified, hits: list[Hit]) -> ShortAnswer | None:
    """The draft's short answer, numbered as its citation now is; dropped unless verbatim in that quote."""
    if draft.short_answer is None or not 1 <= draft.short_answer.citation <= len(hits):
        return None
    chunk_id = hits[draft.short_answer.citation - 1].chunk_id
    for citation in verified.citations:
        if citation.chunk_id == chunk_id and draft.short_answer.text in citation.quote:
            return ShortAnswer(text=draft.short_answer.text, citation=citation.n)
    return None


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
