"""The `openai:<model>` embedder against a real OpenAI-compatible endpoint (the scripted server)."""

from __future__ import annotations

import pytest

from rag.embeddings import make_embedder
from rag.settings import Settings
from testkit.scripted_llm import FakeLLM, hashed_embedding

pytestmark = pytest.mark.integration


def test_openai_embedder_sends_the_model_and_returns_the_endpoints_vectors(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    embedder = make_embedder(Settings(_env_file=None, embedder="openai:fake-embed", llm_max_retries=0))
    vectors = embedder.embed_documents(["Microsoft invests in OpenAI", "rain in Spain"])
    assert vectors.shape == (2, 256)
    assert vectors[0] == pytest.approx(hashed_embedding("Microsoft invests in OpenAI"), abs=1e-6)
    assert vectors[1] == pytest.approx(hashed_embedding("rain in Spain"), abs=1e-6)
    assert fake_llm.embedding_requests[-1]["model"] == "fake-embed"
