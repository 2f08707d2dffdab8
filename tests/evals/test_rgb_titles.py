"""RGB passages have no headline. The title line is embedded with every chunk, so a title made from the
question would put the question's words into every passage (on topic or not); a passage is titled with
its own opening words instead."""

from __future__ import annotations

import json
from pathlib import Path

from evals.suites.rgb import load_rgb, passage_title
from rag.question import stems

QUERY = "Which orchard won the county apple fair in 2031?"
POSITIVE = "Brambleford Orchard won the county apple fair in 2031. Judges praised its cider apples."
NOISE = (
    "Heavy rain closed the coastal road near the lighthouse for most of Tuesday afternoon while crews "
    "cleared fallen branches. Drivers were sent inland."
)
WRONG = "Millbrook Farm won the county apple fair in 2031, a local paper said."


def write_rgb(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "id": 7,
        "query": QUERY,
        "answer": ["Brambleford Orchard"],
        "positive": [POSITIVE],
        "negative": [NOISE],
        "positive_wrong": [WRONG],
        "fakeanswer": "Millbrook Farm",
    }
    (folder / "en_fact.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return folder


def test_a_short_first_sentence_is_the_whole_title() -> None:
    assert passage_title("The bakery opened at dawn. Queues formed early.") == "The bakery opened at dawn."
    assert passage_title("No full stop in this one") == "No full stop in this one"


def test_a_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    title = passage_title(NOISE)
    assert title.endswith("…")
    assert len(title) <= 81  # at most 80 characters of the passage, then the ellipsis
    kept = title.removesuffix("…")
    assert NOISE.startswith(kept)
    assert NOISE[len(kept)] == " "  # cut between words, not inside one
    assert "Drivers" not in title  # the second sentence is not part of it


def test_the_limit_is_a_parameter() -> None:
    assert passage_title("Alpha beta gamma delta.", limit=12) == "Alpha beta…"


def test_load_rgb_titles_each_passage_with_its_own_words_never_the_question(tmp_path: Path) -> None:
    suite = load_rgb(write_rgb(tmp_path / "rgb"))
    titles = {a.body: a.title for a in suite.articles}
    assert set(titles) == {POSITIVE, NOISE, WRONG}
    assert titles[POSITIVE] == "Brambleford Orchard won the county apple fair in 2031."
    assert titles[WRONG] == WRONG
    assert titles[NOISE] == passage_title(NOISE)
    for article in suite.articles:
        assert QUERY not in article.title
        assert article.body.startswith(article.title.removesuffix("…"))
    # the noise passage shares no word with the question, and its title adds none
    assert not stems(titles[NOISE]) & (stems(QUERY) - {"the", "in"})
