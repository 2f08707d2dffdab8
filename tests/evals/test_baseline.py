"""The LangChain dense-only baseline: same stored articles, same chunks, Chroma in the run's temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.baseline import where_filter
from evals.runner import RunOptions, run_suite
from evals.suites import SuiteItem, load_suite_file
from rag.embeddings import Embedder
from tests.evals.fakes import fake_factory

pytest.importorskip("langchain_chroma")
pytest.importorskip("langchain_huggingface")


def test_where_filter() -> None:
    item = SuiteItem.model_validate(
        {
            "id": "a",
            "question": "Q?",
            "answer_type": "refusal",
            "filters": {"sources": ["The Verge"], "since": "2024", "article_ids": ["x"]},
        }
    )
    where = where_filter(item)
    assert where is not None
    assert {"source_lc": {"$in": ["the verge"]}} in where["$and"]
    assert {"article_id": {"$in": ["x"]}} in where["$and"]
    assert where_filter(SuiteItem(id="b", question="Q?", answer_type="refusal")) is None


def test_baseline_runs_in_the_same_run_and_matches_plain_dense(suite_file: Path, embedder: Embedder) -> None:
    suite = load_suite_file(suite_file)
    report = run_suite(
        suite,
        RunOptions(retrieval_only=True, baseline=True, progress=False),
        fake_factory(),
        embedder=embedder,
    ).to_json()
    base = report["metrics"]["baseline_retrieval"]
    assert base["n"] == report["metrics"]["retrieval"]["n"] == 4
    # the scripted service is plain dense retrieval over the same chunks and model: same article ranking
    for q in report["questions"]:
        assert q["baseline"]["retrieved"] == [r["article_id"] for r in q["retrieved"]], q["id"]
    assert base["recall@10"] == report["metrics"]["retrieval"]["recall@10"]
    window = next(q for q in report["questions"] if q["id"] == "window")
    assert len(window["baseline"]["retrieved"]) == 1  # the hard filters apply to the baseline too
