"""API test fixtures: real uvicorn servers on free ports, real HTTP.

`sample_api` serves the samples corpus (extractive answers, read-only); `llm_api` serves it with the
scripted OpenAI-compatible server as its LLM; `serving(settings, embedder)` starts one of your own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api.main import create_app
from ingest.loaders import load
from ingest.pipeline import ingest
from rag.embeddings import Embedder
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store
from tests.conftest import SAMPLES
from tests.support.fake_llm import FakeLLM
from tests.support.servers import UvicornThread

MICROSOFT = "How much has Microsoft invested in OpenAI?"


@contextmanager
def serving(settings: Settings, embedder: Embedder) -> Iterator[str]:
    """create_app(settings) under a real uvicorn on a free 127.0.0.1 port; yields its base URL."""
    server = UvicornThread(create_app(settings, embedder), lifespan="on", graceful_timeout=2)
    server.start(timeout=60)
    try:
        yield server.url
    finally:
        server.stop()


def llm_settings(settings: Settings, fake: FakeLLM, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "llm_model": "scripted",
            "openai_base_url": fake.base_url,
            "openai_api_key": SecretStr("test"),
            "answerer": "openai",
            "llm_timeout": 1.0,
            "llm_max_retries": 0,
            **extra,
        }
    )


@pytest.fixture(scope="session")
def api_corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """The samples/ corpus ingested once into its own data folder; API tests over it only read."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("api-samples") / "data")
    runtime = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    try:
        report = ingest(load(SAMPLES), runtime.store, embedder, settings)
    finally:
        runtime.close()
    assert not report.failed, report.failed
    return settings


@pytest.fixture(scope="session")
def sample_api(api_corpus: Settings, embedder: Embedder) -> Iterator[str]:
    with serving(api_corpus, embedder) as url:
        yield url


@pytest.fixture(scope="session")
def llm_api(api_corpus: Settings, embedder: Embedder, fake_llm_server: FakeLLM) -> Iterator[str]:
    with serving(llm_settings(api_corpus, fake_llm_server), embedder) as url:
        yield url


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, trust_env=False) as c:
        yield c


# ------------------------------------------------------------------------------------------- SSE


@dataclass(frozen=True)
class Event:
    event: str
    data: Any


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    """A small SSE parser (the format as the spec defines it: fields per line, blank line ends an event)."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield Event(event, json.loads("\n".join(data)))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield Event(event, json.loads("\n".join(data)))


def stream_events(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[int, list[Event]]:
    with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [Event("http_error", response.json())]
        assert response.headers["content-type"].startswith("text/event-stream")
        return 200, list(parse_sse(response.iter_lines()))


def assert_answer_valid(answer: dict[str, Any], client: httpx.Client, base: str) -> None:
    """Markers and citations agree (1..n), and every quote is verbatim in its article at start:end."""
    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])})
    assert numbers == [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    for citation in answer["citations"]:
        article = client.get(f"{base}/v1/articles/{citation['article_id']}").json()
        assert article["body"][citation["start"] : citation["end"]] == citation["quote"]
        assert citation["source"] == article["source"]
    if answer["refused"]:
        assert answer["refusal_reason"]
        assert not answer["citations"]
