"""Chroma (embedded or server) for vectors, the catalog (SQLite or PostgreSQL) for articles and keywords.

`make_store(settings)` picks the Chroma mode. We always hand Chroma our own vectors: its default
embedding function would try to download a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from rag.catalog import ArticleFilter, CatalogBackend
from rag.catalogs import make_catalog
from rag.errors import ConfigError, EmbedderMismatch, NewsragError, StoreUnavailable
from rag.models import Article, Chunk
from rag.settings import Settings

T = TypeVar("T")


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def chunk_metadata(article: Article, chunk: Chunk, content_hash: str) -> dict[str, str | int]:
    """What Chroma filters need: Chroma metadata cannot hold None, so absent fields are left out."""
    meta: dict[str, str | int] = {
        "article_id": article.id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "title": article.title,
        "content_hash": content_hash,
    }
    if article.source:
        meta["source"] = article.source
        meta["source_lc"] = article.source.lower()
    if article.url:
        meta["url"] = article.url
    if article.published_at:
        meta["published_ts"] = int(article.published_at.timestamp())
    return meta


def chroma_where(flt: ArticleFilter) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if flt.sources:
        clauses.append({"source_lc": {"$in": [s.lower() for s in flt.sources]}})
    if flt.since_ts is not None:
        clauses.append({"published_ts": {"$gte": flt.since_ts}})
    if flt.until_ts is not None:
        clauses.append({"published_ts": {"$lte": flt.until_ts}})
    if flt.article_ids:
        clauses.append({"article_id": {"$in": list(flt.article_ids)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def article_of(chunk_id: str) -> str:
    """Chunk ids are '<article id>:<index>' (ingest.chunking)."""
    return chunk_id.rsplit(":", 1)[0]


@dataclass(frozen=True)
class VectorMatch:
    chunk_id: str
    article_id: str
    similarity: float


class VectorStore:
    """One Chroma collection of chunk vectors, cosine space, tagged with the embedder that made them."""

    def __init__(self, settings: Settings, embedder_name: str) -> None:
        self.settings = settings
        self.embedder_name = embedder_name
        self.mode = "server" if settings.chroma_url else "embedded"
        self.location = settings.chroma_url or str(settings.chroma_path)
        self._client = self._guard(self._make_client)
        self._collection = self._guard(self._open_collection)

    def _make_client(self) -> Any:
        import chromadb

        if self.settings.chroma_url:
            url = urlparse(self.settings.chroma_url)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ConfigError(f"NEWSRAG_CHROMA_URL must be http(s)://host:port, got {self.location!r}")
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=_chroma_settings(),
            )
        self.settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.settings.chroma_path), settings=_chroma_settings())

    def _open_collection(self) -> Any:
        collection = self._client.get_or_create_collection(
            self.settings.collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedder": self.embedder_name},
        )
        stored = (collection.metadata or {}).get("embedder")
        if stored and stored != self.embedder_name:
            raise EmbedderMismatch(
                f"collection {self.settings.collection!r} was built with embedder {stored!r}, "
                f"not {self.embedder_name!r}: use another NEWSRAG_COLLECTION or the same embedder"
            )
        return collection

    def _guard(self, call: Callable[[], T]) -> T:
        """Chroma raises many kinds of errors (HTTP, Rust bindings); the product needs one."""
        try:
            return call()
        except NewsragError:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"Chroma at {self.location} failed: {exc}") from exc

    @property
    def collection_id(self) -> str:
        return str(self._collection.id)

    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        if not ids:
            return
        # Chroma caps one write batch; the embedded client reports its own limit.
        step = max(1, min(5000, int(self._guard(self._client.get_max_batch_size))))
        for i in range(0, len(ids), step):
            part = slice(i, i + step)
            self._guard(
                lambda part=part: self._collection.upsert(  # type: ignore[misc]
                    ids=ids[part],
                    embeddings=vectors[part],
                    documents=documents[part],
                    metadatas=metadatas[part],
                )
            )

    def delete_stale(self, article_id: str, content_hash: str) -> None:
        """Remove chunks of older versions of an article (no orphans after an update)."""
        where = {"$and": [{"article_id": article_id}, {"content_hash": {"$ne": content_hash}}]}
        self._guard(lambda: self._collection.delete(where=where))

    def delete_article(self, article_id: str) -> None:
        self._guard(lambda: self._collection.delete(where={"article_id": article_id}))

    def ids_for(self, article_id: str) -> list[str]:
        result = self._guard(lambda: self._collection.get(where={"article_id": article_id}, include=[]))
        return list(result["ids"])

    def count(self) -> int:
        return int(self._guard(self._collection.count))

    def heartbeat(self) -> None:
        self._guard(self._client.heartbeat)

    def query(self, vector: np.ndarray, flt: ArticleFilter, n: int) -> list[VectorMatch]:
        """Nearest chunks, distances only: fetching their metadata too cost three times the search itself,
        and the article id is part of the chunk id."""
        where = chroma_where(flt)
        result = self._guard(
            lambda: self._collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [VectorMatch(cid, article_of(cid), 1.0 - float(dist)) for cid, dist in zip(ids, distances, strict=True)]


class Store:
    """Vectors in Chroma plus the catalog; the only thing ingest and retrieval write or read."""

    def __init__(self, vectors: VectorStore, catalog: CatalogBackend) -> None:
        self.vectors = vectors
        self.catalog = catalog
        self._check_catalog_matches()

    def _check_catalog_matches(self) -> None:
        """A catalog left from another Chroma collection (server wiped, new collection) is stale."""
        recorded = self.catalog.get_meta("collection_id")
        if recorded != self.vectors.collection_id:
            if recorded is not None:
                self.catalog.reset()
            self.catalog.set_meta("collection_id", self.vectors.collection_id)

    def write(
        self,
        items: Sequence[tuple[Article, Sequence[Chunk]]],
        vectors: np.ndarray,
        salt: str = "",
        sentences: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Vectors first, stale chunks pruned, catalog last (with the sentence vectors, by chunk id): a crash
        anywhere is repaired by a re-run."""
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict] = []
        for article, chunks in items:
            content_hash = article.content_hash(salt)
            for chunk in chunks:
                ids.append(chunk.id)
                documents.append(chunk.text)
                metadatas.append(chunk_metadata(article, chunk, content_hash))
        self.vectors.upsert(ids, vectors, documents, metadatas)
        for article, _ in items:
            self.vectors.delete_stale(article.id, article.content_hash(salt))
        self.catalog.commit_articles(items, salt, sentences)

    def delete(self, article_id: str) -> bool:
        self.vectors.delete_article(article_id)
        return self.catalog.delete(article_id)

    def close(self) -> None:
        self.catalog.close()


def make_store(settings: Settings, embedder_name: str) -> Store:
    return Store(VectorStore(settings, embedder_name), make_catalog(settings))
