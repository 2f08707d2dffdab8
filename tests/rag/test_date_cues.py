"""Date words in the question itself ("since October", "this week", "last month", "in 2024") decide
which reports an answer may cite, end to end through `NewsQA` and through `POST /v1/ask`.

The corpus is one story (ferry fares on Lake Arden) reported on both sides of every window, so an
answer that ignored the question's date words would cite reports from outside the window. Each test
checks that too: the same question without date words does cite outside the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.validate import RawArticle, validate
from rag.chain import NewsQA
from rag.embeddings import Embedder
from rag.models import Answer, Query
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store
from tests.api.conftest import assert_answer_valid, serving

AS_OF = datetime(2025, 11, 15, 12, tzinfo=UTC)  # a Saturday: "this week" began on Monday 2025-11-10
BARE = "How much did the Lake Arden ferry fare rise?"

# (published, outlet, body): each report names a different fare, so quotes tell them apart.
REPORTS = [
    (
        "2025-11-12",
        "Arden Courier",
        "The Lake Arden ferry fare rose to $6.40 on Wednesday, the operator said. "
        "Commuters queued at the north pier before dawn.",
    ),
    (
        "2025-10-20",
        "Shoreline Daily",
        "The Lake Arden ferry fare rose to $5.90 this month after a fuel surcharge. "
        "The operator blamed higher diesel prices.",
    ),
    (
        "2025-08-05",
        "Arden Courier",
        "The Lake Arden ferry fare rose to $5.10 in August, the second rise this year. "
        "Passenger numbers fell slightly over the summer.",
    ),
    (
        "2024-06-10",
        "Valley Gazette",
        "The Lake Arden ferry fare rose to $4.60 in June as the operator added boats. "
        "A new timetable starts next week.",
    ),
    (
        "2023-03-01",
        "Shoreline Daily",
        "The Lake Arden ferry fare rose to $4.20 in March, the first rise in years. "
        "Islanders protested at the town hall.",
    ),
]


def published(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def raw_articles() -> list[dict[str, Any]]:
    return [
        {
            "title": f"Ferry fares rise ({outlet}, {day})",
            "body": body,
            "url": f"https://example.test/ferry/{day}",
            "source": outlet,
            "published_at": f"{day}T09:00:00Z",
        }
        for day, outlet, body in REPORTS
    ]


# question -> (since, until) the cited reports must lie in, relative to AS_OF
WINDOWS = {
    "How much did the Lake Arden ferry fare rise since October?": (published("2025-10-01"), AS_OF),
    "How much did the Lake Arden ferry fare rise this week?": (published("2025-11-10"), AS_OF),
    "How much did the Lake Arden ferry fare rise last month?": (published("2025-10-15"), AS_OF),
    "How much has the Lake Arden ferry fare risen since 2025?": (published("2025-01-01"), AS_OF),
}


@pytest.fixture(scope="module")
def ferry_runtime(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Runtime]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("ferry") / "data")
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    items = [
        LoadedItem("ferry", str(i), article=validate(RawArticle(**a), settings.max_article_chars))
        for i, a in enumerate(raw_articles())
    ]
    report = ingest(items, rt.store, rt.embedder, settings)
    assert report.added == len(REPORTS), report
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def ferry_qa(ferry_runtime: Runtime) -> Iterator[NewsQA]:
    qa = NewsQA(ferry_runtime)
    yield qa
    qa.close()


@pytest.fixture(scope="module")
def ferry_api(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("ferry-api") / "data")
    with serving(settings, embedder) as base, httpx.Client(timeout=60, trust_env=False) as client:
        report = client.post(f"{base}/v1/articles", json=raw_articles()).json()
        assert report["added"] == len(REPORTS), report
        yield base


def assert_cited_inside(answer: Answer, since: datetime, until: datetime, rt: Runtime) -> None:
    assert not answer.refused, answer.answer
    assert answer.citations, answer.answer
    for c in answer.citations:
        assert c.published_at is not None and since <= c.published_at <= until, (c.published_at, c.quote)
        article = rt.store.catalog.get(c.article_id)
        assert article is not None and article.body[c.start : c.end] == c.quote and c.quote
    assert all(s.published_at is not None and since <= s.published_at <= until for s in answer.sources)


def test_without_date_words_reports_outside_every_window_are_cited(ferry_qa: NewsQA) -> None:
    """The control: the corpus really tempts an answer to cite outside the windows below."""
    answer = ferry_qa.ask(Query(question=BARE, as_of=AS_OF))
    assert not answer.refused
    assert {s.published_at for s in answer.sources} == {published(day).replace(hour=9) for day, _, _ in REPORTS}
    assert answer.citations


@pytest.mark.parametrize("question", list(WINDOWS))
def test_date_words_in_the_question_bound_the_citations(
    ferry_qa: NewsQA, ferry_runtime: Runtime, question: str
) -> None:
    since, until = WINDOWS[question]
    answer = ferry_qa.ask(Query(question=question, as_of=AS_OF))
    assert_cited_inside(answer, since, until, ferry_runtime)


def test_a_window_with_nothing_in_it_is_a_date_range_refusal(ferry_qa: NewsQA) -> None:
    answer = ferry_qa.ask(Query(question="How much did the Lake Arden ferry fare rise today?", as_of=AS_OF))
    assert answer.refused and answer.refusal_reason == "no_sources_in_date_range"
    assert not answer.citations
    assert answer.sources, "the closest reports outside the window are still listed"


@pytest.mark.parametrize(("year", "day"), [(2024, "2024-06-10"), (2023, "2023-03-01")])
def test_a_year_in_the_question_puts_that_years_report_first(ferry_qa: NewsQA, year: int, day: str) -> None:
    """'in 2024' is a soft window (it may name when things happened): other years stay listed, but the
    report from that year leads. Two years, so ignoring the cue cannot pass both."""
    answer = ferry_qa.ask(Query(question=f"How much did the Lake Arden ferry fare rise in {year}?", as_of=AS_OF))
    assert answer.sources and answer.sources[0].published_at == published(day).replace(hour=9)
    assert len({s.article_id for s in answer.sources}) > 1


@pytest.mark.integration
@pytest.mark.parametrize("question", list(WINDOWS))
def test_date_words_bound_the_citations_through_the_api(ferry_api: str, question: str) -> None:
    since, until = WINDOWS[question]
    with httpx.Client(timeout=60, trust_env=False) as client:
        response = client.post(f"{ferry_api}/v1/ask", json={"question": question, "as_of": AS_OF.isoformat()})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert not answer["refused"], answer["answer"]
        assert answer["citations"]
        for c in answer["citations"]:
            assert since <= datetime.fromisoformat(c["published_at"]) <= until, c
        assert_answer_valid(answer, client, ferry_api)

        control = client.post(f"{ferry_api}/v1/ask", json={"question": BARE, "as_of": AS_OF.isoformat()}).json()
        assert any(datetime.fromisoformat(s["published_at"]) < since for s in control["sources"])


AGES = [
    (AS_OF, "3 days"),
    (datetime(2025, 11, 12, 20, tzinfo=UTC), "less than a day"),
    (datetime(2026, 5, 20, tzinfo=UTC), "6 months"),
    (datetime(2028, 1, 2, tzinfo=UTC), "2 years"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("as_of", "age"), AGES)
def test_the_answer_says_how_old_its_newest_source_is(
    ferry_qa: NewsQA, ferry_api: str, as_of: datetime, age: str
) -> None:
    """The age, not only the date: the newest cited report (2025-11-12 09:00) seen from `as_of`, in the
    answer a reader gets (the chat reply's text) and in the Answer's fields."""
    since = published("2025-11-01")
    answer = ferry_qa.ask(Query(question=BARE, since=since, as_of=as_of))
    assert answer.newest_source_at == published("2025-11-12").replace(hour=9)
    body = {
        "model": "newsrag",
        "messages": [{"role": "user", "content": BARE}],
        "filters": {"since": since.isoformat()},
        "as_of": as_of.isoformat(),
    }
    with httpx.Client(timeout=60, trust_env=False) as client:
        response = client.post(f"{ferry_api}/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert "2025-11-12" in content
    assert re.search(rf"\b{age}\b", content), content
