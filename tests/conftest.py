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
