"""`newsrag ask` as a user runs it: a real subprocess over a small ingested folder. What must reach the
terminal is content, not layout: a quote found verbatim in an article, and how old the newest cited
source is (its date and its age relative to --as-of)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.ingest.helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARTICLES = {
    "2025-11-12-courier-ferry.md": (
        "Lake Arden ferry fare rises again",
        "Arden Courier",
        "2025-11-12T09:00:00+00:00",
        "Commuters queued at the north pier before dawn on Wednesday. "
        "The Lake Arden ferry fare rose to $6.40, the operator said. "
        "The operator blamed higher diesel prices.",
    ),
    "2025-08-05-daily-ferry.md": (
        "Summer fare rise for the Lake Arden ferry",
        "Shoreline Daily",
        "2025-08-05T09:00:00+00:00",
        "Passenger numbers fell slightly over the summer. "
        "The Lake Arden ferry fare rose to $5.10 in August, the second rise this year.",
    ),
}
BODIES = [body for *_, body in ARTICLES.values()]
QUESTION = "How much did the Lake Arden ferry fare rise?"
QUOTED = re.compile(r"“([^”]+)”")


@pytest.fixture(scope="module")
def ferry_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-ask")
    folder = root / "articles"
    folder.mkdir()
    for name, (title, source, published, body) in ARTICLES.items():
        (folder / name).write_text(
            f'---\ntitle: "{title}"\nsource: "{source}"\nurl: "https://example.test/{name}"\n'
            f'published_at: "{published}"\n---\n{body}\n',
            encoding="utf-8",
        )
    data = root / "data"
    result = run_cli(["ingest", str(folder)], data)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return data


def ask(data: Path, *args: str) -> str:
    result = run_cli(["ask", QUESTION, *args], data)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def test_ask_prints_a_verbatim_quote_and_the_age_of_its_newest_source(ferry_data: Path) -> None:
    out = ask(ferry_data, "--as-of", "2025-11-15", "--since", "2025-10-01")
    quotes = QUOTED.findall(out)
    assert any("$6.40" in q for q in quotes), out
    verbatim = [q for q in quotes if any(q in body for body in BODIES)]
    assert verbatim, f"no quoted sentence is verbatim in an article:\n{out}"
    assert "2025-11-12" in out, out  # the newest source's date...
    assert re.search(r"\b3 days\b", out), out  # ...and its age on 2025-11-15


def test_the_age_follows_as_of(ferry_data: Path) -> None:
    out = ask(ferry_data, "--as-of", "2026-05-20", "--since", "2025-11-01")
    assert "2025-11-12" in out and re.search(r"\b6 months\b", out), out


def test_ask_json_carries_the_verified_answer(ferry_data: Path) -> None:
    answer = json.loads(ask(ferry_data, "--as-of", "2025-11-15", "--since", "2025-10-01", "--json"))
    assert not answer["refused"] and answer["citations"]
    for c in answer["citations"]:
        assert c["quote"] and any(c["quote"] == body[c["start"] : c["end"]] for body in BODIES), c
    assert answer["newest_source_at"].startswith("2025-11-12")  # the age itself is printed, tested above
