"""The `newsrag` command as a user runs it: real subprocesses, a temporary data folder, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingest.helpers import SAMPLE_COUNT, SAMPLES, cli_json, run_cli, write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUMMARY_KEYS = {"added", "updated", "unchanged", "duplicates", "failed", "chunks"}


def test_ingest_status_list_delete(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"title": "Fine", "body": "A perfectly fine short article about ferries.", "source": "Extra"},
            "{oops",
            {"title": "No body here"},
        ],
    )
    summary = cli_json(["ingest", str(SAMPLES), str(bad)], data, expect=1)  # some failed, the rest stored
    assert set(summary) >= SUMMARY_KEYS
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["duplicates"]) == (
        SAMPLE_COUNT + 1,
        0,
        0,
        0,
    )
    assert summary["chunks"] > SAMPLE_COUNT
    assert summary["failed"] == [
        {"path": str(bad), "item": "line 2", "error": summary["failed"][0]["error"]},
        {"path": str(bad), "item": "line 3", "error": "empty body"},
    ]
    assert "malformed JSON" in summary["failed"][0]["error"]
    chunks = summary["chunks"]

    again = cli_json(["ingest", str(SAMPLES)], data)  # exit 0: nothing failed
    assert (again["added"], again["unchanged"], again["chunks"], again["failed"]) == (0, SAMPLE_COUNT, 0, [])

    status = cli_json(["status"], data)
    assert status["store"]["mode"] == "embedded"
    assert Path(status["store"]["location"]).resolve() == (data / "chroma").resolve()
    assert status["embedder"] == "local:all-MiniLM-L6-v2"
    assert (status["articles"], status["chunks"]) == (SAMPLE_COUNT + 1, chunks)
    assert status["sources"]["Tech Times"] == 5 and status["sources"]["Extra"] == 1
    assert status["date_range"]["oldest"].startswith("2024-05-13")
    assert status["date_range"]["newest"].startswith("2025-10-29")

    listed = cli_json(["articles", "list", "--source", "tech times", "--since", "2025-01-01"], data)
    titles = sorted(a["title"] for a in listed)
    assert titles == [
        "OpenAI and Microsoft sign preliminary deal on the next phase of their partnership",
        "Vera C. Rubin Observatory releases its first images of the sky",
    ]
    assert all("body" not in a for a in listed)
    assert {a["source"] for a in listed} == {"Tech Times"}
    # A bare --until day includes that whole day; --source repeats.
    until = cli_json(
        [
            "articles",
            "list",
            "--source",
            "Market Signal",
            "--source",
            "Pacific Wire",
            "--until",
            "2024-10-13",
        ],
        data,
    )
    assert sorted(a["published_at"][:10] for a in until) == ["2024-09-18", "2024-10-09", "2024-10-13"]

    target = next(a for a in listed if a["title"].startswith("Vera C. Rubin"))
    deleted = run_cli(["articles", "delete", target["id"]], data)
    assert deleted.returncode == 0, deleted.stderr
    assert target["id"] in deleted.stdout
    after = cli_json(["articles", "list", "--source", "Tech Times"], data)
    assert target["id"] not in {a["id"] for a in after} and len(after) == 4
    status = cli_json(["status"], data)
    assert status["articles"] == SAMPLE_COUNT and status["chunks"] < chunks

    missing = run_cli(["articles", "delete", target["id"]], data)
    assert missing.returncode == 1 and "no article" in missing.stderr


def test_plain_summary_and_usage_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    doc = tmp_path / "one.md"
    doc.write_text("# Lighthouse restored\n\nThe old lighthouse reopened to visitors on Saturday.\n")
    result = run_cli(["ingest", str(doc)], data)
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout and "0 failed" in result.stdout

    no_paths = run_cli(["ingest"], data)
    assert no_paths.returncode == 2 and "paths" in no_paths.stderr
    bad_date = run_cli(["articles", "list", "--since", "not-a-date"], data)
    assert bad_date.returncode == 2 and "cannot parse since" in bad_date.stderr
    unknown = run_cli(["frobnicate"], data)
    assert unknown.returncode == 2


def test_failed_items_named_on_stderr_in_plain_mode(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"title": "x", "body": "y", "date": "never"}) + "\n")
    result = run_cli(["ingest", str(bad)], data)
    assert result.returncode == 1
    assert f"failed {bad}:line 1: cannot parse published_at 'never'" in result.stderr
