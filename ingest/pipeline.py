"""`ingest(items, ...) -> IngestReport`: idempotent, crash-safe, one bad article never sinks a batch.

Per batch: decide what changed (content hash against the catalog), chunk and embed only that (each chunk
and the sentences in it), write vectors to Chroma, prune chunks of older versions, and only then commit the
catalog rows with the sentence vectors. A run killed
at any point leaves the catalog describing what is fully stored; the next run redoes the rest with the
same chunk ids, so it ends in the state of one clean run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ingest.chunking import ChunkConfig, chunk
from ingest.loaders import LoadedItem
from rag.embeddings import Embedder
from rag.models import Article, Chunk, IngestFailure, IngestReport
from rag.settings import Settings
from rag.store import Store
from rag.text import sentence_spans

BATCH_CHUNKS = 256  # chunks embedded and written together: big enough to keep the model busy
# How a chunk's sentence vectors are made: "pooled" from the chunk's own token embeddings in the forward
# pass that embeds the chunk (no extra model work; needs an embedder with `embed_with_sentences`), or each
# sentence encoded on its own ("own"; what any embedder can do).
SentenceMode = Literal["pooled", "own"]
SENTENCE_MODE: SentenceMode = "pooled"


@dataclass
class _Tally:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    chunks: int = 0
    failed: list[IngestFailure] = field(default_factory=list)


def chunk_config(settings: Settings, embedder: Embedder) -> ChunkConfig:
    return ChunkConfig(settings.chunk_size, settings.chunk_overlap, embedder.max_tokens)


def version_salt(config: ChunkConfig, embedder: Embedder) -> str:
    """Stored with each article's hash: a new chunker or embedder makes every article 'changed'."""
    return f"{config.signature()}|{embedder.name}"


class Ingestor:
    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        settings: Settings,
        batch_chunks: int | None = None,
        sentence_mode: SentenceMode = SENTENCE_MODE,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.pooled = sentence_mode == "pooled" and hasattr(embedder, "embed_with_sentences")
        self.config = chunk_config(settings, embedder)
        self.salt = version_salt(self.config, embedder)
        self.batch_chunks = batch_chunks or BATCH_CHUNKS

    def run(self, items: Iterable[LoadedItem], progress: Callable[[int], None] | None = None) -> IngestReport:
        started = time.perf_counter()
        tally = _Tally()
        seen: dict[str, str] = {}  # id -> where it was first seen in this run
        pending: list[Article] = []
        pending_chars = 0
        for item in items:
            if item.article is None:
                tally.failed.append(IngestFailure(path=item.path, item=item.item, error=item.error or "invalid"))
                if progress:
                    progress(1)
                continue
            article = item.article
            if article.id in seen:
                tally.failed.append(
                    IngestFailure(
                        path=item.path,
                        item=item.item,
                        error=f"same article id {article.id} as {seen[article.id]} earlier in this batch",
                    )
                )
                if progress:
                    progress(1)
                continue
            seen[article.id] = item.where
            pending.append(article)
            pending_chars += len(article.body)
            # ~4 characters a token: flush when the batch holds about BATCH_CHUNKS full chunks.
            if pending_chars >= self.batch_chunks * self.config.budget * 4:
                self._flush(pending, tally, progress)
                pending, pending_chars = [], 0
        self._flush(pending, tally, progress)
        return IngestReport(
            added=tally.added,
            updated=tally.updated,
            unchanged=tally.unchanged,
            duplicates=tally.duplicates,
            failed=tuple(tally.failed),
            chunks=tally.chunks,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _flush(self, batch: list[Article], tally: _Tally, progress: Callable[[int], None] | None) -> None:
        if not batch:
            return
        catalog = self.store.catalog
        states = catalog.states([a.id for a in batch])
        to_write: list[Article] = []
        bodies_in_batch: dict[str, Article] = {}
        aliases: list[tuple[Article, Article]] = []
        # Stored before sentence vectors existed: written again (same chunk ids), which adds them.
        lacking = catalog.lacking_sentences([s.article_id for s in states.values()])
        for article in batch:
            digest = article.content_hash(self.salt)
            state = states.get(article.id)
            if state is not None and state.content_hash == digest:
                tally.unchanged += 1
                if state.article_id == article.id and article.id in lacking:
                    to_write.append(article)
                    bodies_in_batch[article.body_hash()] = article
                continue
            body_hash = article.body_hash()
            twin = bodies_in_batch.get(body_hash)
            stored_twin = catalog.find_body(body_hash) if twin is None else None
            if twin is not None or (stored_twin is not None and stored_twin != article.id):
                canonical = twin or catalog.get(stored_twin or "")
                if canonical is not None:
                    if state is not None and state.article_id == article.id:
                        # It was stored as an article of its own and is now a copy: its old text must go.
                        self.store.delete(article.id)
                    aliases.append((article, canonical))
                    continue
            bodies_in_batch[body_hash] = article
            to_write.append(article)
            if state is None:
                tally.added += 1
            else:
                tally.updated += 1
        if to_write:
            tally.chunks += self._write(to_write)
        for copy, canonical in aliases:
            catalog.add_alias(copy.id, canonical.id, copy.content_hash(self.salt), copy.url)
            tally.duplicates += 1
        if progress:
            progress(len(batch))

    def _write(self, articles: list[Article]) -> int:
        items: list[tuple[Article, list[Chunk]]] = []
        chunks_: list[Chunk] = []
        for article in articles:
            chunks = chunk(article, self.embedder.count_tokens, self.config)
            items.append((article, chunks))
            chunks_.extend(chunks)
        if not chunks_:
            self.store.write(items, np.zeros((0, 1), dtype=np.float32), self.salt, {})
            return 0
        vectors, sentences = self._embed(chunks_)
        self.store.write(items, vectors, self.salt, sentences)
        return len(chunks_)

    def _embed(self, chunks: list[Chunk]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Chunk vectors and each chunk's sentence vectors (split over the chunk's text, as answers split it)."""
        texts = [c.embed_text for c in chunks]
        spans = [sentence_spans(c.text) for c in chunks]
        if self.pooled:
            # The chunk's text ends its embed text (after the title line): shift the spans there.
            shifted = [
                [(s + len(t) - len(c.text), e + len(t) - len(c.text)) for s, e in sp]
                for c, t, sp in zip(chunks, texts, spans, strict=True)
            ]
            vectors, pooled = self.embedder.embed_with_sentences(texts, shifted)  # type: ignore[attr-defined]
            return vectors, {c.id: rows for c, rows in zip(chunks, pooled, strict=True)}
        unique = list(dict.fromkeys(c.text[s:e] for c, sp in zip(chunks, spans, strict=True) for s, e in sp))
        vectors = self.embedder.embed_documents(texts)
        by_text = dict(zip(unique, self.embedder.embed_documents(unique), strict=True)) if unique else {}
        return vectors, {
            c.id: np.stack([by_text[c.text[s:e]] for s, e in sp]) if sp else np.zeros((0, vectors.shape[1]), np.float32)
            for c, sp in zip(chunks, spans, strict=True)
        }


def ingest(
    items: Iterable[LoadedItem],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    return Ingestor(store, embedder, settings).run(items, progress)
