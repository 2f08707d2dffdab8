"""Smoke: the built-in samples suite, first 3 questions, through the real runner and the real service
(rag.chain, extractive answerer, bundled MiniLM) into a temporary folder. Seconds, not minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.report import write_report
from evals.runner import RunOptions, run_suite
from evals.suites import load_suite
from rag.embeddings import Embedder


@pytest.mark.slow
def test_samples_suite_smoke(tmp_path: Path, embedder: Embedder) -> None:
    suite = load_suite("samples")
    options = RunOptions(limit=3, overrides={"answerer": "extractive"}, progress=False)
    report = run_suite(suite, options, embedder=embedder)
    paths = write_report(report, tmp_path / "run")
    for name in ("report.json", "report.md", "metrics_by_type.png", "latency.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    data = json.loads(paths["json"].read_text())
    metrics = data["metrics"]
    assert metrics["n"] == 3 and metrics["errors"] == 0
    assert data["ingest"]["added"] == 27 and data["ingest"]["failed"] == 0
    assert metrics["citations"]["validity"] == 1.0
    assert metrics["retrieval"]["n"] == 3
    first = data["questions"][0]
    assert first["question"] == "How much has Microsoft invested in OpenAI?"
    assert first["retrieved"] and first["answer"]["mode"] == "extractive"
    assert first["scores"]["contains"] is True, first["answer"]["text"]
