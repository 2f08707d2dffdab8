"""`ingest(items, ...) -> IngestReport`: idempotent, crash-safe, one bad article never sinks a batch.

Per batch: decide what changed (content hash against the catalog), chunk and embed only that, write
vectors to Chroma, prune chunks of older versions, and only then commit the catalog rows. A run killed
at any point leaves the catalog describing what is fully stored; the next run redoes the rest with the
same chunk ids, so it ends in the state of one clean run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ingest.chunking import ChunkConfig, chunk
from ingest.loaders import LoadedItem
from rag.embeddings import Embedder
from rag.models import Article, Chunk, IngestFailure, IngestReport
from rag.settings import Settings
from rag.store import Store

BATCH_CHUNKS = 256  # chunks embedded and written together: big enough to keep the model busy


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
    def __init__(self, store: Store, embedder: Embedder, settings: Settings, batch_chunks: int | None = None) -> None:
        self.store = store
        self.embedder = embedder
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
        for article in batch:
            digest = article.content_hash(self.salt)
            state = states.get(article.id)
            if state is not None and state.content_hash == digest:
                tally.unchanged += 1
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
        texts: list[str] = []
        for article in articles:
            chunks = chunk(article, self.embedder.count_tokens, self.config)
            items.append((article, chunks))
            texts.extend(c.embed_text for c in chunks)
        vectors = self.embedder.embed_documents(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        self.store.write(items, vectors, self.salt)
        return len(texts)


def ingest(
    items: Iterable[LoadedItem],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    return Ingestor(store, embedder, settings).run(items, progress)
