"""Server mode: a real `chroma run` process, ingest over HTTP, the CLI pointed at it."""

from __future__ import annotations

import uuid
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from ingest.loaders import load
from ingest.pipeline import ingest
from rag.catalog import ArticleFilter
from rag.embeddings import Embedder
from rag.errors import StoreUnavailable
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store
from tests.ingest.helpers import SAMPLE_COUNT, SAMPLES, cli_json, run_cli
from tests.ingest.test_pipeline import assert_consistent
from tests.support.chroma_server import (  # noqa: F401 - fixtures used by name
    ChromaServer,
    chroma_server,
    chroma_settings,
    free_port,
    private_chroma_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _runtime(settings: Settings, embedder: Embedder) -> Runtime:
    return Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))


def _server_count(server: ChromaServer, collection: str) -> int:
    client = chromadb.HttpClient(
        host="127.0.0.1", port=server.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_collection(collection).count()


def test_ingest_into_server_mode(
    chroma_server: ChromaServer,  # noqa: F811
    chroma_settings: Settings,  # noqa: F811
    embedder: Embedder,
) -> None:
    rt = _runtime(chroma_settings, embedder)
    try:
        assert rt.store.vectors.mode == "server"
        assert rt.store.vectors.location == chroma_server.url
        first = ingest(load(SAMPLES), rt.store, rt.embedder, rt.settings)
        assert (first.added, first.failed) == (SAMPLE_COUNT, ())
        assert rt.store.catalog.count() == SAMPLE_COUNT
        assert first.chunks == rt.store.vectors.count() == rt.store.catalog.chunk_count()
        assert_consistent(rt)
        # The vectors really live in the server process, not in a local folder.
        assert _server_count(chroma_server, chroma_settings.collection) == first.chunks
        assert not (chroma_settings.data_dir / "chroma").exists()
        # Sentence vectors sit in the catalog beside the chunks, so any process on it reads them.
        articles = [a.id for a in rt.store.catalog.list(ArticleFilter(), limit=1000)]
        assert len(articles) == SAMPLE_COUNT and rt.store.catalog.lacking_sentences(articles) == set()

        second = ingest(load(SAMPLES), rt.store, rt.embedder, rt.settings)
        assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, SAMPLE_COUNT, 0)
        assert rt.store.vectors.count() == first.chunks
    finally:
        rt.close()

    # The CLI against the same server and collection.
    env = {"NEWSRAG_CHROMA_URL": chroma_server.url, "NEWSRAG_COLLECTION": chroma_settings.collection}
    status = cli_json(["status"], chroma_settings.data_dir, **env)
    assert status["store"]["mode"] == "server"
    assert status["store"]["location"] == chroma_server.url
    assert status["store"]["collection"] == chroma_settings.collection
    assert (status["articles"], status["chunks"]) == (SAMPLE_COUNT, first.chunks)
    again = cli_json(["ingest", str(SAMPLES)], chroma_settings.data_dir, **env)
    assert (again["unchanged"], again["chunks"]) == (SAMPLE_COUNT, 0)


def test_server_restart_keeps_the_data(tmp_path: Path, embedder: Embedder) -> None:
    collection = f"restart-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    articles = [i for i in load(SAMPLES) if i.path.endswith(".rss")]
    with private_chroma_server(tmp_path / "db") as server:
        settings = Settings(_env_file=None, data_dir=data_dir, chroma_url=server.url, collection=collection)
        rt = _runtime(settings, embedder)
        try:
            report = ingest(articles, rt.store, rt.embedder, rt.settings)
            chunks = report.chunks
            assert report.added == 4 and chunks == rt.store.vectors.count()
        finally:
            rt.close()
    with private_chroma_server(tmp_path / "db") as server:  # same folder, a new process and port
        settings = Settings(_env_file=None, data_dir=data_dir, chroma_url=server.url, collection=collection)
        rt = _runtime(settings, embedder)
        try:
            assert rt.store.vectors.count() == chunks
            report = ingest(articles, rt.store, rt.embedder, rt.settings)
            assert (report.unchanged, report.chunks) == (4, 0)
            assert_consistent(rt)
        finally:
            rt.close()


def test_unreachable_server_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", chroma_url=url)
    with pytest.raises(StoreUnavailable, match=r"Chroma at http://127\.0\.0\.1:\d+ failed"):
        make_store(settings, embedder.name)
    result = run_cli(["status", "--json"], tmp_path / "data", NEWSRAG_CHROMA_URL=url)
    assert result.returncode == 1
    assert f"error: Chroma at {url} failed" in result.stderr
