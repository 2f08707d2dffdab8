"""Hybrid retrieval over the samples corpus in real Chroma: filters, cues, diversity, modes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rag.dates import date_cues, mentioned_days, parse_bound
from rag.models import Query
from rag.retrieve import Retriever
from rag.runtime import Runtime

AS_OF = datetime(2025, 11, 15, tzinfo=UTC)


def retriever(rt: Runtime, **overrides: object) -> Retriever:
    settings = rt.settings.model_copy(update=overrides) if overrides else rt.settings
    return Retriever(rt.store, rt.embedder, settings)


def test_the_microsoft_openai_story_is_found(sample_runtime: Runtime) -> None:
    hits = retriever(sample_runtime).retrieve(Query(question="How much has Microsoft invested in OpenAI?")).hits
    assert hits[0].source in {"Tech Times", "The Ledger Review", "Northbridge Post"}
    assert "Tech Times" in {h.source for h in hits[:5]}
    assert all(sample_runtime.store.catalog.get(h.article_id).body[h.start : h.end] == h.text for h in hits)


MICROSOFT_OPENAI = {"Tech Times", "The Ledger Review", "Northbridge Post"}  # the outlets reporting the deal


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_every_mode_works_alone(sample_runtime: Runtime, mode: str) -> None:
    hits = retriever(sample_runtime, retrieval_mode=mode).retrieve(Query(question="Microsoft OpenAI investment")).hits
    assert len(hits) == sample_runtime.settings.top_k, mode
    top = hits[0]
    assert top.source in MICROSOFT_OPENAI and "Microsoft" in top.title and "OpenAI" in top.title, (mode, top.title)
    if mode == "dense":
        assert all(h.keyword_rank is None and h.dense_rank is not None for h in hits)
    if mode == "keyword":
        assert all(h.dense_rank is None and h.keyword_rank is not None for h in hits)
    if mode == "hybrid":  # fused: the best hit is one both searches found
        assert top.dense_rank is not None and top.keyword_rank is not None
        assert all(h.dense_rank is not None or h.keyword_rank is not None for h in hits)


def test_source_filter_holds_on_every_path(sample_runtime: Runtime) -> None:
    for mode in ("dense", "keyword", "hybrid"):
        r = retriever(sample_runtime, retrieval_mode=mode)
        hits = r.retrieve(Query(question="Microsoft OpenAI investment", sources=("The Ledger Review",))).hits
        assert hits and {h.source for h in hits} == {"The Ledger Review"}, mode


def test_date_filters_hold(sample_runtime: Runtime) -> None:
    since = parse_bound("2025-01-01")
    until = parse_bound("2025-06-30", end=True)
    hits = retriever(sample_runtime).retrieve(Query(question="chip export rules", since=since, until=until)).hits
    assert hits
    assert all(since <= h.published_at <= until for h in hits)


def test_as_of_hides_what_was_published_later(sample_runtime: Runtime) -> None:
    as_of = datetime(2025, 9, 12, 23, 0, tzinfo=UTC)
    hits = retriever(sample_runtime).retrieve(Query(question="Microsoft OpenAI deal", as_of=as_of)).hits
    assert hits and all(h.published_at <= as_of for h in hits)


def test_article_id_filter(sample_runtime: Runtime) -> None:
    first = retriever(sample_runtime).retrieve(Query(question="Federal Reserve interest rates")).hits[0]
    hits = retriever(sample_runtime).retrieve(Query(question="Microsoft OpenAI", article_ids=(first.article_id,))).hits
    assert {h.article_id for h in hits} == {first.article_id}


def test_one_article_cannot_fill_the_context(sample_runtime: Runtime) -> None:
    hits = retriever(sample_runtime).retrieve(Query(question="Microsoft OpenAI partnership terms", k=8)).hits
    per_article: dict[str, int] = {}
    for h in hits:
        per_article[h.article_id] = per_article.get(h.article_id, 0) + 1
    assert max(per_article.values()) <= sample_runtime.settings.max_chunks_per_article


def test_outlet_named_in_the_question_is_preferred(sample_runtime: Runtime) -> None:
    r = retriever(sample_runtime)
    plan = r.plan(Query(question="According to The Ledger Review, how much did Microsoft invest?"))
    assert plan.outlets == ("The Ledger Review",)
    hits = r.retrieve(Query(question="According to The Ledger Review, how much did Microsoft invest?")).hits
    assert hits[0].source == "The Ledger Review"


def test_latest_prefers_newer_reports(sample_runtime: Runtime) -> None:
    r = retriever(sample_runtime)
    question = "What is the latest on US export rules for AI chips?"
    hits = r.retrieve(Query(question=question, as_of=AS_OF)).hits
    on_topic = [h for h in hits if "export" in h.title.lower() or "chip" in h.title.lower()]
    assert len(on_topic) >= 2
    assert hits[0].published_at == max(h.published_at for h in on_topic)


def test_relative_windows_become_hard_bounds() -> None:
    cues = date_cues("What happened since October?", AS_OF)
    assert cues.since == datetime(2025, 10, 1, tzinfo=UTC)
    assert cues.until == AS_OF
    assert date_cues("news this week", AS_OF).since == datetime(2025, 11, 10, tzinfo=UTC)
    last_month = date_cues("rates last month", AS_OF)
    assert (last_month.since, last_month.until) == (datetime(2025, 10, 15, tzinfo=UTC), AS_OF)


def test_last_month_in_the_question_retrieves_only_last_months_reports(sample_runtime: Runtime) -> None:
    """Over samples/, only the Fed's 2025-10-29 cut (and the 2025-10-28 Microsoft deal) fall in the month
    before AS_OF; the Fed's 2024 cut is out."""
    question = "What did the Federal Reserve do with interest rates last month?"
    hits = retriever(sample_runtime).retrieve(Query(question=question, as_of=AS_OF)).hits
    window = (datetime(2025, 10, 15, tzinfo=UTC), AS_OF)
    assert hits and all(h.published_at and window[0] <= h.published_at <= window[1] for h in hits)
    assert hits[0].title == "Fed lowers rates again and sets end date for balance sheet runoff"


def test_a_year_is_a_soft_window_not_a_filter() -> None:
    cues = date_cues("How much did Microsoft invest in 2024?", AS_OF)
    assert cues.since is None and cues.until is None
    assert cues.prefer_since == datetime(2024, 1, 1, tzinfo=UTC)


def test_days_named_with_or_without_a_year() -> None:
    days = mentioned_days("The Verge on 2023-11-24 and Wired on October 1st")
    assert [(d.month, d.day, d.year) for d in days] == [(11, 24, 2023), (10, 1, None)]
    assert days[1].matches(datetime(2023, 10, 1, 15, tzinfo=UTC))
    assert not days[0].matches(datetime(2023, 11, 28, tzinfo=UTC))


def test_empty_store_retrieves_nothing(runtime: Runtime) -> None:
    assert Retriever(runtime.store, runtime.embedder, runtime.settings).retrieve(Query(question="anything")).hits == []


def test_unknown_outlet_words_are_not_outlets(sample_runtime: Runtime) -> None:
    plan = retriever(sample_runtime).plan(Query(question="In the age of AI, what did the global desk say?"))
    assert plan.outlets == ()
