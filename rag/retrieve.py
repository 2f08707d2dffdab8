"""Hybrid retrieval: dense (Chroma) + keyword (FTS5 BM25), fused by weighted reciprocal rank fusion,
with the cues a news question carries: outlets it names, days it names, date windows and recency.

Why weighted: on multi-hop news questions BM25 alone is far weaker than dense retrieval, and an
equal-weight RRF lets its noise push true evidence out of the top 10. Keyword ranks therefore count
less, and mostly decide among candidates dense retrieval already likes.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from rag.catalog import ArticleFilter, ChunkView
from rag.dates import DateCues, DayMention, date_cues, mentioned_days, to_ts
from rag.embeddings import Embedder
from rag.models import Hit, Query
from rag.question import named_outlets, same_outlet
from rag.settings import Settings
from rag.store import Store

RRF_K = 60
# A further chunk of an article already chosen counts this share of its score. Fused scores are close
# together (1/(60 + rank)), so a small discount already moves a chunk many places down.
SAME_ARTICLE_DISCOUNT = 0.9


@dataclass(frozen=True)
class FusionWeights:
    dense: float = 1.0
    keyword: float = 0.35
    outlet: float = 1.0  # per-outlet dense retrieval for outlets the question names
    outlet_keyword: float = 0.3
    day_bonus: float = 0.02  # a hit from a named outlet on a named day
    window_bonus: float = 0.003  # a hit inside a soft date window ("in 2024"): a tie-breaker only
    recency_bonus: float = 0.01  # at most, for the newest hit, when the question asks for the latest


@dataclass(frozen=True)
class QueryPlan:
    """How a question was read: what it filters on, which outlets and days it names."""

    text: str
    flt: ArticleFilter
    cues: DateCues
    outlets: tuple[str, ...] = ()
    # Outlets the question says reported something and that no stored article is from ("a Reuters report").
    unknown_outlets: tuple[str, ...] = ()
    days_by_outlet: dict[str, tuple[DayMention, ...]] = field(default_factory=dict)
    as_of: datetime | None = None


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    plan: QueryPlan
    candidates: int  # how many distinct chunks were considered before the cut
    query_vector: np.ndarray | None = None  # the question's embedding, reused by the answer path


class _Candidate:
    """A fused candidate before the cut: its catalog view and its score so far."""

    __slots__ = ("score", "view")

    def __init__(self, view: ChunkView, score: float) -> None:
        self.view = view
        self.score = score

    def hit(self, similarity: dict[str, float], dense_rank: dict[str, int], keyword_rank: dict[str, int]) -> Hit:
        chunk_id = self.view.chunk_id
        return Hit(  # a ChunkView's fields are a Hit's, by name
            **vars(self.view),
            score=self.score,
            similarity=similarity.get(chunk_id),
            dense_rank=dense_rank.get(chunk_id),
            keyword_rank=keyword_rank.get(chunk_id),
        )


def _outlet_pattern(name: str) -> re.Pattern[str]:
    """An outlet named as written ('The Age', not 'the age of AI'); a leading 'The' may be lower-case."""
    words = name.split()
    lead = ""
    if len(words) > 1 and words[0].lower() == "the":
        lead, words = r"(?:[Tt]he\s+)?", words[1:]
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w]){lead}{body}(?![\w])")


class Retriever:
    def __init__(
        self, store: Store, embedder: Embedder, settings: Settings, weights: FusionWeights | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.weights = weights or FusionWeights()
        self._outlets: dict[str, re.Pattern[str]] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def _background(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsrag-keyword")
            return self._executor

    def close(self) -> None:
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    # ---------- reading the question ----------
    def refresh_outlets(self) -> None:
        """Outlet names come from the corpus; called after ingest so new outlets are recognised."""
        self._outlets = None

    def _known_outlets(self) -> dict[str, re.Pattern[str]]:
        if self._outlets is None:
            names = [s for s in self.store.catalog.sources() if len(s) >= 3]
            self._outlets = {name: _outlet_pattern(name) for name in names}
        return self._outlets

    def plan(self, query: Query, text: str | None = None, date_cues_on: bool = True) -> QueryPlan:
        question = text or query.question
        as_of = query.as_of or datetime.now(UTC)
        cues = date_cues(question, as_of) if date_cues_on else DateCues()
        since = max(filter(None, [query.since, cues.since]), default=None)
        until = min(filter(None, [query.until, cues.until, query.as_of]), default=None)
        flt = ArticleFilter(
            sources=query.sources,
            since_ts=to_ts(since),
            until_ts=to_ts(until),
            article_ids=query.article_ids,
        )
        outlets: list[tuple[int, str]] = []
        for name, pattern in self._known_outlets().items():
            if query.sources and name.lower() not in {s.lower() for s in query.sources}:
                continue
            if m := pattern.search(question):
                outlets.append((m.start(), name))
        outlets.sort()
        days = mentioned_days(question)
        days_by_outlet: dict[str, list[DayMention]] = defaultdict(list)
        for day in days:
            # A day belongs to the nearest outlet named before it ("The Verge on 2023-11-24").
            before = [(pos, name) for pos, name in outlets if pos < day.position]
            if before and day.position - before[-1][0] < 120:
                days_by_outlet[before[-1][1]].append(day)
        known = self._known_outlets()
        unknown = tuple(n for n in named_outlets(question) if not any(same_outlet(n, k) for k in known))
        return QueryPlan(
            text=question,
            flt=flt,
            cues=cues,
            outlets=tuple(name for _, name in outlets),
            unknown_outlets=unknown,
            days_by_outlet={k: tuple(v) for k, v in days_by_outlet.items()},
            as_of=query.as_of,
        )

    # ---------- retrieving ----------
    def retrieve(
        self, query: Query, k: int | None = None, text: str | None = None, date_cues_on: bool = True
    ) -> Retrieval:
        """`date_cues_on=False` ignores what the question says about dates (explicit filters still hold)."""
        k = k or query.k or self.settings.top_k
        plan = self.plan(query, text, date_cues_on)
        mode = self.settings.retrieval_mode
        pool = max(50, k * 6)
        w = self.weights
        scores: dict[str, float] = defaultdict(float)
        dense_rank: dict[str, int] = {}
        keyword_rank: dict[str, int] = {}
        similarity: dict[str, float] = {}

        # The keyword search (SQLite, which releases the GIL) runs while the question is embedded.
        keyword = (
            self._background().submit(self.store.catalog.keyword_search, plan.text, plan.flt, pool)
            if mode != "dense"
            else None
        )
        vector = self.embedder.embed_query(plan.text) if mode != "keyword" else None
        if vector is not None:
            for rank, match in enumerate(self.store.vectors.query(vector, plan.flt, pool)):
                scores[match.chunk_id] += w.dense / (RRF_K + rank + 1)
                dense_rank[match.chunk_id] = rank + 1
                similarity[match.chunk_id] = match.similarity
        if keyword is not None:
            keyword_weight = w.keyword if mode == "hybrid" else 1.0
            for rank, (chunk_id, _score) in enumerate(keyword.result()):
                scores[chunk_id] += keyword_weight / (RRF_K + rank + 1)
                keyword_rank[chunk_id] = rank + 1
        if mode == "hybrid" and len(plan.outlets) > 0 and not plan.flt.sources:
            self._outlet_passes(plan, vector, scores, similarity)

        if not scores:
            return Retrieval([], plan, 0, vector)
        candidates = self._hydrate(scores)
        if mode == "hybrid":
            self._apply_date_cues(candidates, plan)
        candidates.sort(key=lambda c: c.score, reverse=True)
        # Only the chosen few become Hits: building a validated model for each of the ~100 candidates cost
        # more than the fusion itself.
        hits = [c.hit(similarity, dense_rank, keyword_rank) for c in self._diversify(candidates, k)]
        return Retrieval(hits, plan, len(candidates), vector)

    def _outlet_passes(
        self,
        plan: QueryPlan,
        vector: np.ndarray | None,
        scores: dict[str, float],
        similarity: dict[str, float],
    ) -> None:
        """Each outlet the question names gets its own filtered search, so a multi-source question
        finds every report it refers to, not only the one most similar to the whole question."""
        w = self.weights
        for outlet in plan.outlets:
            flt = replace(plan.flt, sources=(outlet,))
            if vector is not None:
                for rank, match in enumerate(self.store.vectors.query(vector, flt, 10)):
                    scores[match.chunk_id] += w.outlet / (RRF_K + rank + 1)
                    similarity.setdefault(match.chunk_id, match.similarity)
            for rank, (chunk_id, _s) in enumerate(self.store.catalog.keyword_search(plan.text, flt, 10)):
                scores[chunk_id] += w.outlet_keyword / (RRF_K + rank + 1)

    def _hydrate(self, scores: dict[str, float]) -> list[_Candidate]:
        views = self.store.catalog.chunk_views(list(scores))
        candidates: list[_Candidate] = []
        for chunk_id, score in scores.items():
            view = views.get(chunk_id)
            if view is None:
                continue  # vectors written by a killed ingest whose catalog row never landed
            candidates.append(_Candidate(view, score))
        return candidates

    def _apply_date_cues(self, candidates: list[_Candidate], plan: QueryPlan) -> None:
        """Adds each candidate's date bonus to its score, in place."""
        w = self.weights
        cues = plan.cues
        if not (plan.days_by_outlet or cues.prefer_since or cues.recency):
            return  # no cue can give a bonus
        dated = [c.view.published_at for c in candidates if c.view.published_at]
        newest, oldest = (max(dated), min(dated)) if dated else (None, None)
        for candidate in candidates:
            published_at = candidate.view.published_at
            bonus = 0.0
            days = plan.days_by_outlet.get(candidate.view.source or "", ())
            if any(day.matches(published_at) for day in days):
                bonus += w.day_bonus
            if (
                cues.prefer_since
                and published_at
                and cues.prefer_since <= published_at <= (cues.prefer_until or published_at)
            ):
                bonus += w.window_bonus
            if cues.recency and published_at and newest and oldest and newest > oldest:
                bonus += w.recency_bonus * (published_at - oldest) / (newest - oldest)
            if bonus:
                candidate.score = candidate.score + bonus

    def _diversify(self, candidates: list[_Candidate], k: int) -> list[_Candidate]:
        """Greedy pick by score, discounting a further chunk of an article already chosen, so one long
        article cannot fill the context; at most `max_chunks_per_article` chunks of one article.
        (A per-outlet discount was measured too: it hurts multi-hop questions, which often need several
        reports from one outlet.)"""
        limit = self.settings.max_chunks_per_article
        per_article: dict[str, int] = defaultdict(int)
        remaining = list(candidates)
        chosen: list[_Candidate] = []

        def adjusted(candidate: _Candidate) -> float:
            return candidate.score * (SAME_ARTICLE_DISCOUNT ** per_article[candidate.view.article_id])

        while remaining and len(chosen) < k:
            best = max(remaining, key=adjusted)
            remaining.remove(best)
            if per_article[best.view.article_id] >= limit:
                continue
            chosen.append(best)
            per_article[best.view.article_id] += 1
        return chosen
