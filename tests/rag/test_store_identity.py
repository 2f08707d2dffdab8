"""README: one Chroma collection per embedder (vectors of two models never mix), and a catalog left from
another collection is reset instead of claiming articles whose vectors are not there."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import chromadb
import pytest

from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.validate import RawArticle, validate
from rag.embeddings import Embedder
from rag.errors import EmbedderMismatch
from rag.models import Query
from rag.retrieve import Retriever
from rag.settings import Settings
from rag.store import Store, _chroma_settings, make_store

QUESTION = "When does the new tram line to the airport open?"
ARTICLES = [
    ("Tram line to the airport opens in June", "The new tram line to the airport opens in June, the city said. "
     "Trains will run every eight minutes."),
    ("Airport tram fares announced", "A single ticket on the airport tram will cost $3. "
     "Children under twelve travel free."),
]  # fmt: skip


def settings_at(folder: Path, **extra: object) -> Settings:
    return Settings(_env_file=None, data_dir=folder / "data", **extra)  # type: ignore[arg-type]


def ingest_articles(settings: Settings, embedder: Embedder) -> int:
    store = make_store(settings, embedder.name)
    try:
        items = [
            LoadedItem(
                "tram",
                str(i),
                article=validate(
                    RawArticle(
                        title=title,
                        body=body,
                        url=f"https://example.test/tram/{i}",
                        source="Metro Wire",
                        published_at="2025-05-01",
                    ),
                    settings.max_article_chars,
                ),
            )
            for i, (title, body) in enumerate(ARTICLES)
        ]
        return ingest(items, store, embedder, settings).added
    finally:
        store.close()


def hits(store: Store, embedder: Embedder, settings: Settings, mode: str) -> int:
    retriever = Retriever(store, embedder, settings.model_copy(update={"retrieval_mode": mode}))
    try:
        return len(retriever.retrieve(Query(question=QUESTION)).hits)
    finally:
        retriever.close()


# ---------- one collection per embedder ----------


def test_a_collection_refuses_another_embedder(tmp_path: Path) -> None:
    settings = settings_at(tmp_path)
    make_store(settings, "local:all-MiniLM-L6-v2").close()
    with pytest.raises(EmbedderMismatch) as info:
        make_store(settings, "openai:text-embedding-3-small")
    message = str(info.value)
    assert "local:all-MiniLM-L6-v2" in message and "openai:text-embedding-3-small" in message
    assert "NEWSRAG_COLLECTION" in message
    make_store(settings, "local:all-MiniLM-L6-v2").close()  # the embedder that built it still opens it


def test_another_embedder_gets_its_own_collection(tmp_path: Path) -> None:
    make_store(settings_at(tmp_path), "local:all-MiniLM-L6-v2").close()
    other = make_store(settings_at(tmp_path, collection="newsrag-openai"), "openai:text-embedding-3-small")
    try:
        assert other.vectors.count() == 0 and other.catalog.count() == 0
    finally:
        other.close()


def test_an_ingested_collection_refuses_another_embedder(tmp_path: Path, embedder: Embedder) -> None:
    settings = settings_at(tmp_path)
    assert ingest_articles(settings, embedder) == len(ARTICLES)
    with pytest.raises(EmbedderMismatch):
        make_store(settings, "some-folder:/models/e5-small")
    store = make_store(settings, embedder.name)
    try:
        assert store.catalog.count() == len(ARTICLES)
    finally:
        store.close()


# ---------- the catalog follows its collection ----------


def test_reopening_the_same_collection_keeps_the_catalog(tmp_path: Path, embedder: Embedder) -> None:
    settings = settings_at(tmp_path)
    ingest_articles(settings, embedder)
    store = make_store(settings, embedder.name)
    try:
        assert store.catalog.count() == len(ARTICLES)
        assert hits(store, embedder, settings, "keyword") > 0
    finally:
        store.close()


def replace_collection(settings: Settings, where: Path) -> Settings:
    """The collection is deleted and made again (a wiped Chroma server): same name, new id."""
    client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=_chroma_settings())
    client.delete_collection(settings.collection)
    return settings


def move_catalog(settings: Settings, where: Path) -> Settings:
    """The same catalog next to another, empty Chroma (the data folder pointed at another store)."""
    moved = settings_at(where)
    moved.data_dir.mkdir(parents=True)
    shutil.copy(settings.catalog_path, moved.catalog_path)
    return moved


@pytest.mark.parametrize("switch", [replace_collection, move_catalog], ids=["recreated", "other-chroma"])
def test_a_catalog_from_another_collection_is_reset(
    tmp_path: Path, embedder: Embedder, switch: Callable[[Settings, Path], Settings]
) -> None:
    settings = settings_at(tmp_path / "first")
    assert ingest_articles(settings, embedder) == len(ARTICLES)
    moved = switch(settings, tmp_path / "second")

    store = make_store(moved, embedder.name)
    try:
        assert store.vectors.count() == 0
        assert store.catalog.count() == 0, "the catalog still lists articles the collection has no vectors for"
        assert hits(store, embedder, moved, "keyword") == 0
    finally:
        store.close()
    # Re-ingest really stores them again (not "unchanged"), and they are found.
    assert ingest_articles(moved, embedder) == len(ARTICLES)
    store = make_store(moved, embedder.name)
    try:
        assert store.vectors.count() > 0 and hits(store, embedder, moved, "dense") > 0
    finally:
        store.close()
