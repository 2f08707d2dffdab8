"""Suite files and the third-party adapters, on tiny hand-made files in the same formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from evals.suites import BUILTIN, SuiteError, SuiteItem, load_suite, load_suite_file
from evals.suites.model import REPO_ROOT
from evals.suites.multihop import load_multihop
from evals.suites.rgb import answer_groups, load_rgb, passage_id
from ingest.loaders import load_many
from ingest.validate import canonical_url


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ----------------------------------------------------------------- the built-in samples suite


def test_samples_suite_is_valid_and_covers_the_brief() -> None:
    suite = load_suite("samples")
    assert suite.name == "samples"
    assert suite.corpus_paths == ((REPO_ROOT / "samples").resolve(),)
    assert 45 <= len(suite.items) <= 60
    types = {i.question_type for i in suite.items}
    assert {
        "fact",
        "latest",
        "source_filter",
        "date_window",
        "multi_source",
        "conflict",
        "follow_up",
    } <= types
    assert sum(i.answer_type == "refusal" for i in suite.items) >= 3
    assert any(i.history for i in suite.items)
    assert any(i.filters.sources for i in suite.items)
    assert any(i.filters.since and i.filters.until for i in suite.items)
    assert any(i.as_of for i in suite.items)
    investment = next(i for i in suite.items if i.question == "How much has Microsoft invested in OpenAI?")
    assert "$13 billion" in investment.answer


def test_samples_gold_urls_exist_in_the_corpus() -> None:
    suite = load_suite("samples")
    urls = {item.article.url for item in load_many(suite.corpus_paths) if item.article}
    assert len(urls) == 27
    for item in suite.items:
        if item.answer_type != "refusal":
            assert item.evidence.urls, item.id
        for url in item.evidence.urls:
            assert canonical_url(url) in urls, (item.id, url)


# ----------------------------------------------------------------- the format


def test_item_accepts_shorthands_and_is_frozen() -> None:
    item = SuiteItem.model_validate(
        {
            "id": "q1",
            "question": "Who?",
            "answer": "Jalen Hurts",
            "answer_type": "entity",
            "must_include": ["Hurts", ["MVP", "most valuable player"]],
            "filters": {"sources": "The Ledger Review", "since": "2025-02", "until": "2025-02-28"},
            "as_of": "2025-03-01",
            "history": [
                {"role": "user", "content": "Super Bowl?"},
                {"role": "assistant", "content": "Eagles."},
            ],
            "evidence": {"urls": "https://x.example/a"},
        }
    )
    assert item.answer == ("Jalen Hurts",)
    assert item.must_include == (("Hurts",), ("MVP", "most valuable player"))
    assert item.filters.sources == ("The Ledger Review",)
    assert item.filters.since is not None and item.filters.since.isoformat() == "2025-02-01T00:00:00+00:00"
    assert item.filters.until is not None and item.filters.until.day == 28 and item.filters.until.hour == 23
    assert item.as_of is not None and item.as_of.tzinfo is not None
    assert item.evidence.urls == ("https://x.example/a",)
    with pytest.raises(ValidationError):
        item.question = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    "record, message",
    [
        ({"id": "x", "question": "Q?", "answer_type": "entity"}, "needs an 'answer'"),
        ({"id": "x", "question": "Q?", "answer": "maybe", "answer_type": "yes_no"}, "yes_no answers"),
        ({"id": "x", "question": "", "answer_type": "refusal"}, "question"),
        ({"id": "x", "question": "Q?", "answer_type": "opinion"}, "answer_type"),
        ({"id": "x", "question": "Q?", "answer_type": "refusal", "colour": "red"}, "colour"),
        ({"id": "x", "question": "Q?", "answer_type": "refusal", "filters": {"since": "soon"}}, "since"),
    ],
)
def test_invalid_items_are_named(tmp_path: Path, record: dict, message: str) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [{"suite": {"name": "t"}}, record])
    with pytest.raises(SuiteError, match=message) as info:
        load_suite_file(path)
    assert f"{path}:2" in str(info.value)


def test_file_level_errors(tmp_path: Path) -> None:
    dup = write_jsonl(
        tmp_path / "dup.jsonl",
        [
            {"id": "a", "question": "Q?", "answer_type": "refusal"},
            {"id": "a", "question": "R?", "answer_type": "refusal"},
        ],
    )
    with pytest.raises(SuiteError, match="duplicate id 'a'"):
        load_suite_file(dup)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "question": "Q?", "answer_type": "refusal"}\n{oops\n')
    with pytest.raises(SuiteError, match=r"broken.jsonl:2: invalid JSON"):
        load_suite_file(broken)
    late = write_jsonl(
        tmp_path / "late.jsonl",
        [{"id": "a", "question": "Q?", "answer_type": "refusal"}, {"suite": {"name": "x"}}],
    )
    with pytest.raises(SuiteError, match="first line"):
        load_suite_file(late)
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"suite": {"name": "x"}}])
    with pytest.raises(SuiteError, match="no items"):
        load_suite_file(empty)
    missing = write_jsonl(
        tmp_path / "missing.jsonl",
        [
            {"suite": {"name": "x", "corpus": ["nowhere/at/all"]}},
            {"id": "a", "question": "Q?", "answer_type": "refusal"},
        ],
    )
    with pytest.raises(SuiteError, match="corpus 'nowhere/at/all' not found"):
        load_suite_file(missing)
    with pytest.raises(SuiteError, match="no suite"):
        load_suite(str(tmp_path / "absent.jsonl"))


def test_corpus_resolves_next_to_the_suite_then_override(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    other = tmp_path / "other.jsonl"
    other.write_text("")
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"suite": {"name": "mine", "corpus": "corpus"}},
            {"id": "a", "question": "Q?", "answer_type": "refusal"},
        ],
    )
    assert load_suite_file(path).corpus_paths == ((tmp_path / "corpus").resolve(),)
    assert load_suite(str(path), data=other).corpus_paths == (other.resolve(),)


def test_sidecar_header_and_yaml_suites(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "side.jsonl", [{"id": "a", "question": "Q?", "answer_type": "refusal"}])
    (tmp_path / "side.suite.json").write_text(json.dumps({"suite": {"name": "from-sidecar"}}))
    assert load_suite_file(path).name == "from-sidecar"
    yml = tmp_path / "y.yaml"
    yml.write_text(
        "suite:\n  name: yml\nitems:\n  - id: a\n    question: Did it?\n    answer: 'yes'\n    answer_type: yes_no\n"
    )
    suite = load_suite_file(yml)
    assert suite.name == "yml" and suite.items[0].answer == ("yes",)
    no_header = write_jsonl(tmp_path / "plain.jsonl", [{"id": "a", "question": "Q?", "answer_type": "refusal"}])
    assert load_suite_file(no_header).name == "plain"


def test_builtin_adapters_need_data() -> None:
    assert BUILTIN == ("samples", "multihop", "rgb")
    with pytest.raises(SuiteError, match="needs --data"):
        load_suite("multihop")
    with pytest.raises(SuiteError, match="needs --data"):
        load_suite("rgb")


# ----------------------------------------------------------------- MultiHop-RAG


def make_multihop(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        folder / "articles.jsonl",
        [
            {
                "id": "x1",
                "title": "Google trial",
                "source": "TechCrunch",
                "published_at": "2023-10-30T10:00:00+00:00",
                "url": "https://techcrunch.com/google-trial/?utm_source=rss",
                "body": "Google paid $26 billion.",
            },
            {
                "id": "x2",
                "title": "Apple case",
                "source": "The Verge",
                "published_at": "2023-11-01T10:00:00+00:00",
                "url": "https://www.theverge.com/apple",
                "body": "Apple defended the deal.",
            },
        ],
    )
    write_jsonl(
        folder / "queries_dev.jsonl",
        [
            {
                "id": "mh-1",
                "question": "Did both report on Google?",
                "answer": "Yes",
                "question_type": "comparison_query",
                "evidence": [
                    {"url": "https://techcrunch.com/google-trial/?utm_source=rss", "fact": "..."},
                    {"url": "https://www.theverge.com/apple", "fact": "..."},
                ],
            },
            {
                "id": "mh-2",
                "question": "Which company paid?",
                "answer": "Google",
                "question_type": "inference_query",
                "evidence": [{"url": "https://techcrunch.com/google-trial/?utm_source=rss", "fact": "..."}],
            },
            {
                "id": "mh-3",
                "question": "Who won the 2031 cup?",
                "answer": "Insufficient information.",
                "question_type": "null_query",
                "evidence": [],
            },
        ],
    )
    return folder


def test_multihop_adapter(tmp_path: Path) -> None:
    suite = load_suite("multihop", make_multihop(tmp_path / "mh"))
    assert suite.name == "multihop"
    assert suite.corpus_paths == ((tmp_path / "mh" / "articles.jsonl").resolve(),)
    yes, entity, null = suite.items
    assert (yes.answer_type, yes.answer, yes.question_type) == ("yes_no", ("Yes",), "comparison_query")
    assert len(yes.evidence.urls) == 2
    assert (entity.answer_type, entity.answer) == ("entity", ("Google",))
    assert (null.answer_type, null.answer, null.evidence.empty) == ("refusal", (), True)


def test_multihop_several_query_files_get_prefixed_ids(tmp_path: Path) -> None:
    folder = make_multihop(tmp_path / "mh")
    (folder / "queries_test.jsonl").write_text((folder / "queries_dev.jsonl").read_text())
    suite = load_multihop(folder)
    assert len(suite.items) == 6
    assert suite.items[0].id == "dev:mh-1" and suite.items[3].id == "test:mh-1"


def test_multihop_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"no articles\.jsonl"):
        load_multihop(tmp_path)
    folder = make_multihop(tmp_path / "mh")
    (folder / "queries_dev.jsonl").write_text('{"id": "x"}\n')
    with pytest.raises(SuiteError, match=r"queries_dev\.jsonl:1"):
        load_multihop(folder)


# ----------------------------------------------------------------- RGB


def make_rgb(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(
        folder / "en_fact.jsonl",
        [
            {
                "id": 0,
                "query": "Super Bowl 2021 location",
                "answer": "Tampa, Florida",
                "fakeanswer": "Glendale, Arizona",
                "positive": ["The game was played at Raymond James Stadium in Tampa, Florida."],
                "positive_wrong": ["The game was played at Raymond James Stadium in Glendale, Arizona."],
                "negative": ["Super Bowl LVIII tickets in Las Vegas.", "Shared noise passage."],
            },
            {
                "id": 1,
                "query": "Date of the launch",
                "answer": [["July 21 2017", "Jul 21, 2017"]],
                "fakeanswer": "July 1, 2007",
                "positive": ["It launched on July 21, 2017."],
                "positive_wrong": ["It launched on July 1, 2007."],
                "negative": ["Shared noise passage."],
            },
        ],
    )
    return folder


def test_rgb_adapter_builds_four_conditions_per_question(tmp_path: Path) -> None:
    suite = load_rgb(make_rgb(tmp_path / "rgb"))
    assert [i.id for i in suite.items[:4]] == [
        "rgb-0-negative_rejection",
        "rgb-0-noise_robustness",
        "rgb-0-counterfactual",
        "rgb-0-conflicting_sources",
    ]
    neg, noise, cf, conflict = suite.items[:4]
    by_body = {a.id: a.body for a in suite.articles}
    assert neg.answer_type == "refusal"
    assert [by_body[i] for i in neg.filters.article_ids] == [
        "Super Bowl LVIII tickets in Las Vegas.",
        "Shared noise passage.",
    ]
    assert noise.answer == ("Tampa, Florida",) and set(noise.evidence.article_ids) < set(noise.filters.article_ids)
    assert len(noise.filters.article_ids) == 3
    assert cf.fake_answer == ("Glendale, Arizona",) and "Glendale" in by_body[cf.filters.article_ids[0]]
    assert len(conflict.filters.article_ids) == 2
    # the shared passage is one article, used by both questions
    shared = passage_id("Shared noise passage.")
    assert sum(a.id == shared for a in suite.articles) == 1
    assert shared in suite.items[4].filters.article_ids
    assert all(a.source == "rgb" and a.url is None for a in suite.articles)
    assert suite.items[5].answer == ("July 21 2017", "Jul 21, 2017")


def test_rgb_limit_shrinks_the_in_memory_corpus(tmp_path: Path) -> None:
    suite = load_rgb(make_rgb(tmp_path / "rgb"))
    first = suite.limited(4)
    assert len(first.items) == 4
    assert {a.id for a in first.articles} == {aid for i in first.items for aid in i.filters.article_ids}
    assert len(first.articles) < len(suite.articles)
    assert len(list(first.corpus())) == len(first.articles)


def test_rgb_answer_groups() -> None:
    assert answer_groups("Tampa") == [("Tampa",)]
    assert answer_groups(["a", "b"]) == [("a",), ("b",)]  # a list of strings: all required
    assert answer_groups([["a", "b"], "c"]) == [("a", "b"), ("c",)]


def test_rgb_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"no en_fact\.jsonl"):
        load_rgb(tmp_path)
    folder = make_rgb(tmp_path / "rgb")
    with pytest.raises(SuiteError, match="unknown RGB conditions"):
        load_rgb(folder, conditions=("bogus",))
    (folder / "en_fact.jsonl").write_text('{"id": 3}\n')
    with pytest.raises(SuiteError, match=r"en_fact\.jsonl:1"):
        load_rgb(folder)
