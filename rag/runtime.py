"""Wiring built once by an entry point: the embedder and the store, from one Settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.embeddings import CachingEmbedder, Embedder, make_embedder
from rag.sentences import SentenceVectors, StoredSentences
from rag.settings import Settings
from rag.store import Store, make_store


@dataclass
class Runtime:
    settings: Settings
    embedder: Embedder
    store: Store
    # The vectors of retrieved chunks' sentences, which the answerers and citation checks score.
    sentences: SentenceVectors = field(init=False)

    def __post_init__(self) -> None:
        self.sentences = StoredSentences(self.store.catalog, CachingEmbedder(self.embedder))

    def close(self) -> None:
        self.store.close()


def open_runtime(settings: Settings) -> Runtime:
    embedder = make_embedder(settings)
    return Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
