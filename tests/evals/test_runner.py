"""The runner, reports, comparisons and CLI on a tiny corpus, with a scripted service (tests/evals/fakes.py)
over the real store and the real bundled embedder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from evals import cli, runner
from evals.records import EvalReport
from evals.report import compare, flatten, load_report, render_compare, render_markdown, write_report
from evals.runner import EvalError, RunOptions, parse_overrides, run_suite
from evals.suites import load_suite_file
from rag.embeddings import Embedder
from tests.evals.fakes import fake_factory, refuse_tour


@pytest.fixture(scope="module")
def run(suite_file: Path, embedder: Embedder) -> EvalReport:
    suite = load_suite_file(suite_file)
    return run_suite(suite, RunOptions(progress=False), fake_factory(refuse=refuse_tour), embedder=embedder)


@pytest.fixture(scope="module")
def report(run: EvalReport) -> dict[str, Any]:
    """The run as report.json holds it."""
    return run.to_json()


def test_run_scores_every_question(report: dict[str, Any]) -> None:
    metrics = report["metrics"]
    assert report["suite"]["name"] == "tiny" and metrics["n"] == 5
    assert report["ingest"]["added"] == 3
    by_id = {q["id"]: q for q in report["questions"]}
    # retrieval: gold by url and by quote both resolve; the refusal has no retrieval score
    assert by_id["mvp"]["retrieval"]["hits@1"] == 1.0
    assert by_id["qubits"]["gold"] and by_id["qubits"]["retrieval"]["recall@10"] == 1.0
    assert "retrieval" not in by_id["tour"]
    assert metrics["retrieval"]["n"] == 4
    # the scripted service quotes the best sentence: contains-match, not exact match
    assert by_id["mvp"]["scores"]["contains"] is True and by_id["mvp"]["scores"]["exact_match"] is False
    assert by_id["fed"]["scores"]["exact_match"] is False  # it never says "yes"
    assert by_id["tour"]["scores"]["correct"] is True and by_id["tour"]["answer"]["refused"]
    r = metrics["refusals"]
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 0) and r["f1"] == 1.0
    assert metrics["citations"]["validity"] == 1.0
    assert metrics["citations"]["precision"] == 1.0
    assert by_id["window"]["retrieved"][0]["source"] == "Market Signal"
    assert len(by_id["window"]["retrieved"]) == 1  # the filter held
    assert metrics["latency_ms"]["total"]["n"] == 5 and metrics["errors"] == 0
    assert set(report["by_type"]) == {"fact", "yes_no", "unanswerable", "date_window"}
    assert report["by_type"]["fact"]["n"] == 2
    if (runner.REPO_ROOT / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=runner.REPO_ROOT, capture_output=True, text=True)
        assert report["run"]["commit"] == head.stdout.strip() and len(report["run"]["commit"]) == 40
    else:  # an exported snapshot (test_commit_of_an_exported_snapshot covers the rules)
        assert report["run"]["commit"] == os.environ.get("NEWSRAG_COMMIT")
    assert "openai_api_key" not in report["settings"]


def test_report_files(run: EvalReport, report: dict[str, Any], tmp_path: Path) -> None:
    paths = write_report(run, tmp_path / "out")
    for name in ("report.json", "report.md", "metrics_by_type.png", "latency.png"):
        assert (tmp_path / "out" / name).exists()
    assert (tmp_path / "out" / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = load_report(tmp_path / "out")
    assert again.metrics.n == 5 and len(again.questions) == 5
    assert json.loads(paths["json"].read_text()) == report and again.to_json() == report  # round trip
    md = paths["md"].read_text()
    assert "## Metrics by question type" in md and "| fact | 2 |" in md
    assert "citation validity (must be 1.000) | 1.000" in md


def test_invalid_citations_and_errors_are_counted(suite_file: Path, embedder: Embedder) -> None:
    suite = load_suite_file(suite_file)
    run = run_suite(
        suite,
        RunOptions(progress=False),
        fake_factory(corrupt_quotes=True, fail_on="qubits", refuse=refuse_tour),
        embedder=embedder,
    )
    report = run.to_json()
    m = report["metrics"]
    assert m["errors"] == 1
    # 4 answers: the refusal cites nothing (valid), the other 3 carry edited quotes
    assert m["citations"]["invalid_answers"] == 3 and m["citations"]["validity"] == 0.25
    failed = next(q for q in report["questions"] if q["id"] == "qubits")
    assert failed["error"].startswith("ask: RuntimeError") and "retrieval" in failed
    # a question that raised counts as a wrong answer, not as a missing one
    assert failed["scores"]["correct"] is False and m["answers"]["n"] == 5
    assert m["refusals"]["tp"] == 1
    assert "invalid citations" in render_markdown(run)


def test_retrieval_only_and_limit(suite_file: Path, embedder: Embedder) -> None:
    suite = load_suite_file(suite_file)
    factory = fake_factory()
    run = run_suite(suite, RunOptions(limit=2, retrieval_only=True, progress=False), factory, embedder=embedder)
    report = run.to_json()
    assert report["metrics"]["n"] == 2
    assert "answers" not in report["metrics"] and all("answer" not in q for q in report["questions"])
    assert report["metrics"]["retrieval"]["n"] == 2
    md = render_markdown(run)
    assert "retrieval only" in md and "| **all** | 2 |" in md
    assert "## Answers, refusals, citations" not in md and "| retrieve_only | 2 |" in md
    assert "| answer |" not in md


def test_eval_never_touches_the_users_store(
    suite_file: Path, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_dir = tmp_path / "user-data"
    monkeypatch.setenv("NEWSRAG_DATA_DIR", str(user_dir))
    monkeypatch.setenv("NEWSRAG_CHROMA_URL", "http://127.0.0.1:9")  # would fail if used
    run = run_suite(load_suite_file(suite_file), RunOptions(limit=1, progress=False), fake_factory(), embedder=embedder)
    assert run.metrics.n == 1
    assert not user_dir.exists()
    assert run.settings["chroma_url"] is None


def test_parse_overrides() -> None:
    assert parse_overrides(["retrieval_mode=dense", "top-k=4"]) == {"retrieval_mode": "dense", "top_k": "4"}
    for bad, message in [
        ("nokey", "KEY=VALUE"),
        ("colour=red", "not a setting"),
        ("data_dir=/x", "temporary store"),
    ]:
        with pytest.raises(EvalError, match=message):
            parse_overrides([bad])
    settings = runner.eval_settings(Path("/tmp/x"), parse_overrides(["top_k=3", "retrieval_mode=keyword"]))
    assert settings.top_k == 3 and settings.retrieval_mode == "keyword"


# ----------------------------------------------------------------- comparisons


def test_compare_reports_deltas_and_worse_questions(run: EvalReport, report: dict[str, Any]) -> None:
    b = json.loads(json.dumps(report))
    worse = next(q for q in b["questions"] if q["id"] == "mvp")
    worse["scores"]["correct"] = False
    worse["retrieval"]["recall@10"] = 0.0
    b["metrics"]["answers"]["accuracy"] = 0.6
    b["metrics"]["latency_ms"]["total"]["p50"] = report["metrics"]["latency_ms"]["total"]["p50"] - 1
    result = compare(run, EvalReport.from_json(b)).to_json()
    deltas = {d["metric"]: d for d in result["deltas"]}
    assert deltas["answers.accuracy"]["delta"] == pytest.approx(0.6 - report["metrics"]["answers"]["accuracy"])
    assert deltas["answers.accuracy"]["better"] is False
    assert deltas["latency_ms.total.p50"]["better"] is True  # lower latency is better
    assert [w["id"] for w in result["worse"]] == ["mvp"]
    assert set(result["worse"][0]["drops"]) == {"correct", "recall@10"}
    text = render_compare(compare(run, EvalReport.from_json(b)))
    assert "WORSE" in text and "| mvp |" in text
    assert compare(run, run).worse == ()


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": None, "d": True}, "e": "x", "f": 2.5}) == {
        "a.b": 1.0,
        "a.d": 1.0,
        "f": 2.5,
    }


# ----------------------------------------------------------------- CLI


def test_cli_compare_and_usage_errors(run: EvalReport, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_report(run, tmp_path / "a")
    write_report(run, tmp_path / "b")
    assert cli.main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "cmp")]) == 0
    assert "# Compare" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "compare.json").exists()
    assert cli.main(["compare", str(tmp_path / "a")]) == 2
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "nothing")]) == 2
    assert cli.main(["no-such-suite.jsonl"]) == 2
    assert cli.main(["samples", "--set", "colour=red"]) == 2
    assert cli.main(["multihop"]) == 2
    assert cli.main(["samples", "--limit", "0"]) == 2
    assert cli.main(["samples", "extra"]) == 2
    err = capsys.readouterr().err
    assert "needs --data" in err and "not a setting" in err


def test_cli_run_writes_reports(
    suite_file: Path,
    embedder: Embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import rag.runtime
    from rag.store import make_store

    monkeypatch.setattr(runner, "default_qa_factory", fake_factory(refuse=refuse_tour))
    monkeypatch.setattr(
        rag.runtime,
        "open_runtime",
        lambda settings: rag.runtime.Runtime(settings, embedder, make_store(settings, embedder.name)),
    )
    out = tmp_path / "run"
    code = cli.main(["eval", str(suite_file), "--out", str(out), "--no-progress", "--set", "top_k=4"])
    assert code == 0
    text = capsys.readouterr().out
    assert "tiny: 5 questions" in text and "citation validity 1.000" in text
    data = load_report(out)
    assert data.run.overrides == {"top_k": "4"} and data.settings["top_k"] == 4
    assert (out / "report.md").exists()


def test_add_eval_parser_registers_on_the_newsrag_parser() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="newsrag")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.add_eval_parser(sub)
    args = parser.parse_args(["eval", "samples", "--limit", "3", "--set", "top_k=8", "--set", "answerer=extractive"])
    assert args.func is cli.cmd_eval and args.target == ["samples"] and args.limit == 3
    assert args.overrides == ["top_k=8", "answerer=extractive"]
    args = parser.parse_args(["eval", "compare", "a", "b"])
    assert args.target == ["compare", "a", "b"]


def test_commit_of_an_exported_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "REPO_ROOT", tmp_path)  # no .git here
    monkeypatch.setenv("NEWSRAG_COMMIT", "abc123")
    assert runner.git_commit() == {"commit": "abc123", "dirty": False}
    monkeypatch.delenv("NEWSRAG_COMMIT")
    assert runner.git_commit() == {"commit": None, "dirty": None}
