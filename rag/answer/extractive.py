"""The offline answerer: the 1-3 source sentences that best answer the question, quoted verbatim.

Sentences are scored against the question with the same embedder as retrieval plus shared content
words. Below a calibrated score it refuses rather than quote something merely related.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.base import AnswerContext, Draft, words_as_tokens
from rag.citations import content_words, lexical_overlap
from rag.conflicts import Reported, asks_for_figure, describe, disagreement, main_figure
from rag.embeddings import Embedder
from rag.models import ChatTurn
from rag.sentences import SentenceRef, chunk_sentences

# Calibrated for MiniLM with this blend on hand-checked questions over samples/ and on the eval
# suites (evals/RESULTS.md): a sentence this strong answers on its own; a weaker one (down to
# SUPPORTED_SENTENCE) only when its passage as a whole is clearly on the question's topic.
CONFIDENT_SENTENCE = 0.45
SUPPORTED_SENTENCE = 0.33
ON_TOPIC_PASSAGE = 0.42
MAX_SENTENCES = 3
CLOSE_TO_BEST = 0.08
CLOSE_TO_BEST_LATEST = 0.2
_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|she|his|her|this|that|these|those|there|the company)\b", re.I)


@dataclass(frozen=True)
class Scored:
    ref: SentenceRef
    score: float


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    @staticmethod
    def answerable(sentence_score: float, passage_similarity: float | None) -> bool:
        if sentence_score >= CONFIDENT_SENTENCE:
            return True
        return (
            sentence_score >= SUPPORTED_SENTENCE
            and passage_similarity is not None
            and passage_similarity >= ON_TOPIC_PASSAGE
        )

    def condense(self, question: str, history: Sequence[ChatTurn]) -> str:
        """Without an LLM: a short or pronoun-led follow-up borrows the previous user question's words."""
        previous = [t.content for t in history if t.role == "user"]
        if not previous:
            return question
        if len(question.split()) <= 6 or _PRONOUN.search(question):
            return f"{previous[-1]} {question}"
        return question

    def score(self, question: str, sentences: Sequence[SentenceRef]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        vectors = self.embedder.embed_documents([question, *(s.text for s in sentences)])
        cos = vectors[1:] @ vectors[0]
        lex = np.array([lexical_overlap(question, s.text) for s in sentences], dtype=np.float32)
        return 0.75 * cos + 0.25 * lex

    def run(self, context: AnswerContext) -> Iterator[str | Draft]:
        draft = self.draft(context)
        yield from words_as_tokens(draft.text)
        yield draft

    def draft(self, context: AnswerContext) -> Draft:
        hits = context.hits
        sentences = [s for s in chunk_sentences(hits) if len(content_words(s.text)) >= 3]
        if not sentences:
            return Draft("", refused=True, refusal_reason="no_relevant_sources")
        scores = self.score(context.question, sentences)
        ranked = sorted(
            (Scored(s, float(x)) for s, x in zip(sentences, scores, strict=True)),
            key=lambda s: s.score,
            reverse=True,
        )
        best = ranked[0]
        if not self.answerable(best.score, hits[best.ref.hit_index].similarity):
            return Draft("", refused=True, refusal_reason="no_relevant_sources")
        margin = CLOSE_TO_BEST_LATEST if context.recency else CLOSE_TO_BEST
        close = [s for s in ranked if s.score >= max(SUPPORTED_SENTENCE, best.score - margin)]
        if context.recency:  # "latest": the newest report among the strong answers leads

            def newest_first(s: Scored) -> float:
                when = hits[s.ref.hit_index].published_at
                return when.timestamp() if when else 0.0

            close.sort(key=newest_first, reverse=True)
        chosen: list[Scored] = []
        for candidate in close:
            if len(chosen) >= MAX_SENTENCES:
                break
            if any(_near_duplicate(candidate.ref.text, c.ref.text) for c in chosen):
                continue
            chosen.append(candidate)
        conflict_text, conflict_refs = self._conflict(context, ranked, best.score)
        for ref in conflict_refs:
            if all(ref.ref.start != c.ref.start or ref.ref.hit_index != c.ref.hit_index for c in chosen):
                chosen.append(ref)
        lines = [self._line(s.ref, context) for s in chosen]
        text = "\n".join(lines)
        if conflict_text:
            text += "\n\n" + conflict_text
        return Draft(text, conflicts=(conflict_text,) if conflict_text else ())

    def _line(self, ref: SentenceRef, context: AnswerContext) -> str:
        hit = context.hits[ref.hit_index]
        when = f" ({hit.published_at:%Y-%m-%d})" if hit.published_at else ""
        return f"{hit.source or hit.title}{when}: “{ref.text}” [{ref.hit_index + 1}]"

    def _conflict(self, context: AnswerContext, ranked: list[Scored], best: float) -> tuple[str, list[Scored]]:
        """Each article's best sentence with a figure, among strong answers; differing figures are named."""
        if not asks_for_figure(context.question):
            return "", []
        per_article: dict[str, Scored] = {}
        for s in ranked:
            if s.score < max(SUPPORTED_SENTENCE, best - 0.15):
                break
            article = context.hits[s.ref.hit_index].article_id
            if article not in per_article and main_figure(s.ref.text):
                per_article[article] = s
        reports = []
        for s in per_article.values():
            figure = main_figure(s.ref.text)
            hit = context.hits[s.ref.hit_index]
            if figure is not None:
                reports.append(Reported(figure, hit.source, hit.published_at, s.ref.hit_index + 1))
        differing = disagreement(reports)
        if not differing:
            return "", []
        markers = {r.marker for r in differing}
        return describe(differing), [s for s in per_article.values() if s.ref.hit_index + 1 in markers]


def _near_duplicate(a: str, b: str) -> bool:
    return lexical_overlap(a, b) > 0.7 or lexical_overlap(b, a) > 0.7
