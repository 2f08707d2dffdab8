"""Wiring built once by an entry point: the embedder and the store, from one Settings."""

from __future__ import annotations

from dataclasses import dataclass

from rag.embeddings import Embedder, make_embedder
from rag.settings import Settings
from rag.store import Store, make_store


@dataclass
class Runtime:
    settings: Settings
    embedder: Embedder
    store: Store

    def close(self) -> None:
        self.store.close()


def open_runtime(settings: Settings) -> Runtime:
    embedder = make_embedder(settings)
    return Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
