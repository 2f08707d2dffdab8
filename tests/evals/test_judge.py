"""The LLM judge: a scripted LangChain chat model stands in for the configured LLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from evals.judge import judge, parse_verdict
from evals.runner import EvalError, RunOptions, run_suite
from evals.suites import SuiteItem, load_suite_file
from rag.embeddings import Embedder
from tests.evals.fakes import fake_factory, refuse_tour


def test_parse_verdict() -> None:
    assert parse_verdict("CORRECT") is True
    assert parse_verdict("incorrect.") is False
    assert parse_verdict("The answer is correct") is True
    assert parse_verdict("I cannot tell") is None


def test_judge_prompt_and_verdicts() -> None:
    item = SuiteItem(id="a", question="Who?", answer=("Jalen Hurts",), answer_type="entity")
    model = FakeListChatModel(responses=["CORRECT", "INCORRECT", "maybe"])
    assert judge(model, item, "Jalen Hurts was MVP [1].") is True
    assert judge(model, item, "Mahomes.") is False
    assert judge(model, item, "?") is None


def test_judge_failure_is_no_verdict() -> None:
    class Broken:
        def invoke(self, prompt: str) -> str:
            raise TimeoutError("slow")

    item = SuiteItem(id="a", question="Q?", answer_type="refusal")
    assert judge(Broken(), item, "The sources do not say.") is None


def test_runner_reports_judge_accuracy(suite_file: Path, embedder: Embedder) -> None:
    model = FakeListChatModel(responses=["CORRECT", "INCORRECT", "CORRECT", "CORRECT", "no idea"])
    report = run_suite(
        load_suite_file(suite_file),
        RunOptions(judge=True, progress=False),
        fake_factory(refuse=refuse_tour),
        embedder=embedder,
        judge_model=model,
    )
    answers = report.to_json()["metrics"]["answers"]
    assert answers["judge_accuracy"] == 0.75 and answers["judge_coverage"] == 0.8
    from evals.report import render_markdown

    assert "LLM judge accuracy (coverage) | 0.750 (0.800)" in render_markdown(report)


def test_judge_needs_an_llm(suite_file: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSRAG_LLM_MODEL", raising=False)
    with pytest.raises(EvalError, match="needs an LLM"):
        run_suite(
            load_suite_file(suite_file),
            RunOptions(judge=True, progress=False),
            fake_factory(),
            embedder=embedder,
        )
