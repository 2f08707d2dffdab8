"""Shared fixtures: real Chroma, the real bundled model, settings pointing at a temporary data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embeddings import Embedder, make_embedder
from rag.runtime import Runtime
from rag.settings import Settings, prepare_environment
from rag.store import make_store

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"

prepare_environment()

pytest_plugins = ["tests.support.fake_llm", "tests.support.llama_server"]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled MiniLM, loaded once per session (real model, no hub)."""
    return make_embedder(Settings(_env_file=None))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data")


@pytest.fixture
def runtime(settings: Settings, embedder: Embedder) -> Iterator[Runtime]:
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("samples") / "data")


@pytest.fixture(scope="session")
def sample_runtime(sample_settings: Settings, embedder: Embedder) -> Iterator[Runtime]:
    """The samples/ corpus ingested once per session into real embedded Chroma. Read-only for tests."""
    from ingest.loaders import load
    from ingest.pipeline import ingest

    rt = Runtime(settings=sample_settings, embedder=embedder, store=make_store(sample_settings, embedder.name))
    report = ingest(load(SAMPLES), rt.store, rt.embedder, sample_settings)
    assert not report.failed, report.failed
    yield rt
    rt.close()
