"""Sentence vectors for the hits of one question: what the extractive answerer and citation checks score.

The seam between the fast path and the answerers: `SentenceVectors.of(hits)` gives every sentence of the
retrieved chunks (split by `rag.text.sentence_spans`, the split chunking uses) with a unit vector per
sentence. `EmbeddedSentences` computes them with the embedder on each call; a store that keeps the vectors
written at ingest implements the same protocol, so the answer path does no model work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.embeddings import Embedder
from rag.models import Hit
from rag.text import sentence_spans


@dataclass(frozen=True)
class SentenceRef:
    hit_index: int  # 0-based into hits
    start: int  # absolute offsets into the article body
    end: int
    text: str


@dataclass(frozen=True)
class HitSentences:
    """The sentences of a list of hits, in hit then text order, and their vectors (one unit row each)."""

    refs: tuple[SentenceRef, ...]
    vectors: np.ndarray


def chunk_sentences(hits: Sequence[Hit]) -> list[SentenceRef]:
    refs: list[SentenceRef] = []
    for i, hit in enumerate(hits):
        for s, e in sentence_spans(hit.text):
            refs.append(SentenceRef(i, hit.start + s, hit.start + e, hit.text[s:e]))
    return refs


class SentenceVectors(Protocol):
    def of(self, hits: Sequence[Hit]) -> HitSentences: ...


class EmbeddedSentences:
    """Vectors computed now by the embedder (wrap it in a CachingEmbedder to reuse them across calls)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def of(self, hits: Sequence[Hit]) -> HitSentences:
        refs = chunk_sentences(hits)
        if not refs:
            return HitSentences((), np.zeros((0, 0), dtype=np.float32))
        return HitSentences(tuple(refs), self.embedder.embed_documents([r.text for r in refs]))
