"""Sentence vectors for the hits of one question: what the extractive answerer and citation checks score.

The seam between the fast path and the answerers: `SentenceVectors.of(hits)` gives every sentence of the
retrieved chunks (split by `rag.text.sentence_spans`, the split chunking uses) with a unit vector per
sentence. `StoredSentences` reads the vectors ingest wrote beside each chunk (one catalog query per call), so
the answer path does no model work; `EmbeddedSentences` computes them with the embedder, which is what
`StoredSentences` falls back to for chunks stored before sentence vectors existed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.catalog import CatalogBackend
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


_EMPTY = HitSentences((), np.zeros((0, 0), dtype=np.float32))


class EmbeddedSentences:
    """Vectors computed now by the embedder (wrap it in a CachingEmbedder to reuse them across calls)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def of(self, hits: Sequence[Hit]) -> HitSentences:
        refs = chunk_sentences(hits)
        if not refs:
            return _EMPTY
        return HitSentences(tuple(refs), self.embedder.embed_documents([r.text for r in refs]))


class StoredSentences:
    """Vectors written at ingest (rag.catalog chunk_sentences), read for all hits in one query.

    A chunk with no stored vectors, or with a different number of sentences than its text splits into (a
    store written by an older version), gets them from `fallback`; re-running `newsrag ingest` over the same
    sources writes the missing ones (ingest backfills unchanged articles that lack them).
    """

    # How many recent answers to remember, by the hits list asked about (see `of`).
    RECENT = 64

    def __init__(self, catalog: CatalogBackend, fallback: Embedder) -> None:
        self.catalog = catalog
        self.fallback = fallback
        self._recent: deque[tuple[Sequence[Hit], tuple[tuple[str, str], ...], HitSentences]] = deque(maxlen=self.RECENT)
        self._lock = threading.Lock()

    def of(self, hits: Sequence[Hit]) -> HitSentences:
        """The sentences of `hits` and their vectors. One question asks twice for the same hits list (the
        answerer scores its sentences, then citation checks do): the second call, for that very list object
        with the same chunks, gets the first call's answer instead of reading the catalog again. The list is
        held until it drops out of the RECENT last lists asked about, so its identity cannot be reused
        meanwhile; the arrays are read-only, so sharing them cannot leak an edit from one caller to another."""
        key = tuple((h.chunk_id, h.text) for h in hits)
        with self._lock:
            for seen, seen_key, found in self._recent:
                if seen is hits and seen_key == key:
                    return found
        found = self._read(hits)
        with self._lock:
            self._recent.append((hits, key, found))
        return found

    def _read(self, hits: Sequence[Hit]) -> HitSentences:
        refs = chunk_sentences(hits)
        if not refs:
            return _EMPTY
        stored = self.catalog.sentence_vectors(list(dict.fromkeys(h.chunk_id for h in hits)))
        per_hit: list[list[SentenceRef]] = [[] for _ in hits]
        for ref in refs:
            per_hit[ref.hit_index].append(ref)
        blocks: list[np.ndarray | None] = []
        missing: list[SentenceRef] = []
        for hit, hit_refs in zip(hits, per_hit, strict=True):
            rows = stored.get(hit.chunk_id)
            if rows is not None and rows.shape[0] == len(hit_refs):
                blocks.append(rows)
            else:
                blocks.append(None)
                missing.extend(hit_refs)
        fresh = iter(self.fallback.embed_documents([r.text for r in missing]) if missing else [])
        vectors = np.concatenate(
            [
                block if block is not None else np.stack([next(fresh) for _ in hit_refs])
                for block, hit_refs in zip(blocks, per_hit, strict=True)
                if hit_refs
            ]
        )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # stored as float16: make them unit again
        unit = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        unit.flags.writeable = False
        return HitSentences(tuple(refs), unit)
