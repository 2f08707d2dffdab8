"""A plain LangChain dense-only baseline, built in the same run from the same stored articles.

Same embedder (the bundled MiniLM, through `langchain_huggingface.HuggingFaceEmbeddings`, normalised so
distances rank as cosine), same chunks (our chunker, embedding the same title line + chunk text), and a
`langchain_chroma.Chroma` collection in the run's temporary folder. No keyword index, no fusion, no date
or outlet cues, no per-article cap: `similarity_search` with the question's hard filters only (outlets,
dates, article ids). Retrieval only; it answers nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.metrics import dedupe
from evals.suites.model import SuiteItem
from rag.catalog import ArticleFilter

if TYPE_CHECKING:
    from langchain_chroma import Chroma

    from rag.runtime import Runtime

CHUNKS_PER_QUERY = 60  # enough chunks to see 10 distinct articles without a per-article cap
ADD_BATCH = 512


def where_filter(item: SuiteItem) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    flt = item.filters
    if flt.sources:
        clauses.append({"source_lc": {"$in": [s.lower() for s in flt.sources]}})
    if flt.since is not None:
        clauses.append({"published_ts": {"$gte": int(flt.since.timestamp())}})
    if flt.until is not None:
        clauses.append({"published_ts": {"$lte": int(flt.until.timestamp())}})
    if flt.article_ids:
        clauses.append({"article_id": {"$in": list(flt.article_ids)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass
class LangChainDenseBaseline:
    store: Chroma
    chunks: int

    @classmethod
    def build(cls, runtime: Runtime, folder: Path) -> LangChainDenseBaseline:
        try:
            from langchain_chroma import Chroma
            from langchain_huggingface import HuggingFaceEmbeddings
        except ImportError as exc:  # dev extras
            raise RuntimeError(
                "the LangChain baseline needs langchain-chroma and langchain-huggingface (pip install -e '.[dev]')"
            ) from exc
        from chromadb.config import Settings as ChromaSettings

        from ingest.chunking import chunk
        from ingest.pipeline import chunk_config
        from rag.embeddings import bundled_model_path

        embeddings = HuggingFaceEmbeddings(
            model_name=str(bundled_model_path()),
            model_kwargs={"device": runtime.settings.embed_device},
            encode_kwargs={"normalize_embeddings": True, "batch_size": runtime.settings.embed_batch_size},
        )
        store = Chroma(
            collection_name="langchain-baseline",
            embedding_function=embeddings,
            persist_directory=str(folder),
            client_settings=ChromaSettings(
                anonymized_telemetry=False, is_persistent=True, persist_directory=str(folder)
            ),
            collection_metadata={"hnsw:space": "cosine"},
        )
        config = chunk_config(runtime.settings, runtime.embedder)
        catalog = runtime.store.catalog
        articles = catalog.list(ArticleFilter(), limit=max(1, catalog.count()))
        texts: list[str] = []
        metadatas: list[dict[str, Any]] = []
        ids: list[str] = []
        for article in articles:
            for piece in chunk(article, runtime.embedder.count_tokens, config):
                meta: dict[str, Any] = {"article_id": article.id}
                if article.source:
                    meta["source_lc"] = article.source.lower()
                if article.published_at:
                    meta["published_ts"] = int(article.published_at.timestamp())
                texts.append(piece.embed_text)
                metadatas.append(meta)
                ids.append(piece.id)
        for i in range(0, len(texts), ADD_BATCH):
            store.add_texts(
                texts[i : i + ADD_BATCH], metadatas=metadatas[i : i + ADD_BATCH], ids=ids[i : i + ADD_BATCH]
            )
        return cls(store=store, chunks=len(texts))

    def retrieve(self, item: SuiteItem, articles: int = 10) -> list[str]:
        """Article ids of the top chunks for the bare question, best first, `articles` distinct at most."""
        docs = self.store.similarity_search(item.question, k=CHUNKS_PER_QUERY, filter=where_filter(item))
        return dedupe(str(d.metadata["article_id"]) for d in docs)[:articles]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # best effort: the temporary folder goes anyway
            self.store.delete_collection()
