"""Settings that entry points resolve: which answerer, how many torch threads."""

from __future__ import annotations

import pytest

from rag.settings import Settings


@pytest.mark.parametrize(
    ("values", "use_llm", "threads"),
    [
        ({}, False, None),  # extractive: torch's default (all cores) for batches of sentences
        ({"llm_model": "m"}, True, 1),  # auto picks the LLM; one short question embeds as fast on 1 thread
        ({"answerer": "openai", "llm_model": "m", "torch_threads": 2}, True, 2),
        ({"answerer": "extractive", "llm_model": "m"}, False, None),
        ({"torch_threads": 3}, False, 3),
    ],
)
def test_answerer_and_torch_threads(values: dict[str, object], use_llm: bool, threads: int | None) -> None:
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    assert settings.use_llm is use_llm
    assert settings.effective_torch_threads == threads


def test_torch_threads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSRAG_TORCH_THREADS", "1")
    assert Settings(_env_file=None).effective_torch_threads == 1
    monkeypatch.setenv("NEWSRAG_TORCH_THREADS", "0")
    with pytest.raises(ValueError, match="torch_threads"):
        Settings(_env_file=None)
