"""The watcher over a real store and a real HTTP server: polls, conditional re-polls, updated stories
replacing their chunks, failing sources that back off without stopping the others, and retention."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ingest.loaders import LoadedItem
from ingest.pipeline import ingest
from ingest.state import SqliteWebState
from ingest.watch import Progress, Sink, Watcher, prune_before
from rag.catalog import ArticleFilter
from rag.models import IngestReport
from rag.runtime import Runtime
from rag.settings import Settings
from tests.support.news_site import NewsSite

pytestmark = pytest.mark.slow


@pytest.fixture
def live(runtime: Runtime) -> Runtime:
    runtime.settings = runtime.settings.model_copy(
        update={"fetch_allow_private": True, "fetch_per_host_delay": 0.0, "fetch_timeout": 1.0}
    )
    return runtime


def sink_of(runtime: Runtime) -> Sink:
    def sink(items: Iterable[LoadedItem], progress: Progress | None) -> IngestReport:
        return ingest(items, runtime.store, runtime.embedder, runtime.settings, progress)

    return sink


@pytest.fixture
def state(live: Runtime) -> Iterator[SqliteWebState]:
    with SqliteWebState(live.settings.web_state_path, live.store.catalog.get_meta("collection_id")) as opened:
        yield opened


def no_orphans(runtime: Runtime) -> None:
    assert runtime.store.vectors.count() == runtime.store.catalog.chunk_count()


def test_poll_repoll_update_and_failing_sources(site: NewsSite, live: Runtime, state: SqliteWebState) -> None:
    feed, missing, slow = site.url + "/feed.xml", site.url + "/missing", site.url + "/slow"
    for url in (feed, missing, slow):
        state.add(url, 900)
    watcher = Watcher(live.settings, state, state.cache, sink_of(live))
    catalog = live.store.catalog

    polls = {p.source.url: p for p in watcher.poll(everything=True)}
    assert polls[feed].status == "ok" and polls[feed].run is not None
    assert polls[feed].run.report.added == 3
    assert catalog.count() == 3
    story2 = next(a for a in catalog.list(ArticleFilter()) if a.title.startswith("Story 2"))
    assert story2.body.startswith("FULLTEXT-2-v1")  # the page's full text
    for url, reason in ((missing, "HTTP 404"), (slow, "timed out")):
        source = polls[url].source
        assert (source.status, source.failures) == ("error", 1)
        assert reason in (source.last_error or "")
        assert source.last_fetch_at is not None
        assert source.next_due_at - source.last_fetch_at == timedelta(seconds=1800)  # backoff: twice the schedule
    assert state.get(feed).next_due_at - state.get(feed).last_fetch_at == timedelta(seconds=900)  # type: ignore[union-attr]

    site.clear_log()
    polls = {p.source.url: p for p in watcher.poll(everything=True)}
    assert polls[feed].status == "not_modified"
    assert [(s.status, s.conditional) for s in site.requests_for("/feed.xml")] == [(304, True)]
    assert not any(s.path.startswith("/story-") for s in site.log)  # a 304 costs nothing more
    assert polls[missing].source.failures == 2
    assert polls[missing].source.next_due_at - polls[missing].source.last_fetch_at == timedelta(seconds=3600)  # type: ignore[operator]

    site.advance()  # the feed gains story 4, story 2 changes
    site.clear_log()
    polls = {p.source.url: p for p in watcher.poll(everything=True)}
    run = polls[feed].run
    assert run is not None and (run.report.added, run.report.updated, run.report.unchanged) == (1, 1, 0)
    pages = {s.path: s.status for s in site.log if s.path.startswith("/story-")}
    assert pages == {"/story-1": 304, "/story-2": 200, "/story-3": 304, "/story-4": 200}
    assert all(s.conditional for s in site.log if s.path in ("/story-1", "/story-2", "/story-3"))
    updated = catalog.get(story2.id)
    assert updated is not None and updated.body.startswith("FULLTEXT-2-v2") and "UPDATE v2" in updated.body
    assert catalog.count() == 4
    no_orphans(live)  # the old version's chunks are gone from Chroma too
    assert state.get(feed).articles_added == 4  # type: ignore[union-attr]


def test_a_source_whose_ingest_raises_does_not_stop_the_others(
    site: NewsSite, live: Runtime, state: SqliteWebState
) -> None:
    real = sink_of(live)

    def sink(items: Iterable[LoadedItem], progress: Progress | None) -> IngestReport:
        materialised = list(items)
        if any("atom" in i.path for i in materialised):
            raise RuntimeError("disk full")
        return real(materialised, progress)

    state.add(site.url + "/atom.xml", 600)
    state.add(site.url + "/feed.xml", 600)
    polls = Watcher(live.settings, state, state.cache, sink).poll(everything=True)
    assert [(p.source.url.rsplit("/", 1)[1], p.status) for p in polls] == [("atom.xml", "error"), ("feed.xml", "ok")]
    assert polls[0].error == "RuntimeError: disk full"
    assert live.store.catalog.count() == 3


def test_only_due_sources_are_polled(site: NewsSite, live: Runtime, state: SqliteWebState) -> None:
    state.add(site.url + "/atom.xml", 600)
    watcher = Watcher(live.settings, state, state.cache, sink_of(live))
    assert len(watcher.poll()) == 1  # new sources are due at once
    assert watcher.poll() == []  # then not before their schedule
    later = datetime.now(UTC) + timedelta(seconds=601)
    assert [p.status for p in watcher.poll(now=later)] == ["not_modified"]


def test_prune_before_and_retention(site: NewsSite, live: Runtime, state: SqliteWebState) -> None:
    state.add(site.url + "/feed.xml", 600)
    Watcher(live.settings, state, state.cache, sink_of(live)).poll(everything=True)
    assert prune_before(live.store, datetime(2025, 12, 3, tzinfo=UTC)) == 2  # Dec 1 and Dec 2
    assert [a.title for a in live.store.catalog.list(ArticleFilter())] == ["Story 3 about the city"]
    no_orphans(live)

    kept: Settings = live.settings.model_copy(update={"retention_days": 1})
    then = datetime(2025, 12, 3, 12, tzinfo=UTC)  # the window starts on Dec 2 at 12:00
    pruned: list[datetime] = []

    def prune(cutoff: datetime) -> int:
        pruned.append(cutoff)
        return prune_before(live.store, cutoff)

    site.advance()
    site.clear_log()
    polls = Watcher(kept, state, state.cache, sink_of(live), prune=prune).poll(everything=True, now=then)
    run = polls[0].run
    assert run is not None and run.skipped_old == 2  # stories 1 and 2 are older than the window: not fetched
    assert not site.requests_for("/story-1") and not site.requests_for("/story-2")
    assert pruned == [datetime(2025, 12, 2, 12, tzinfo=UTC)]
    assert sorted(a.title for a in live.store.catalog.list(ArticleFilter())) == [
        "Story 3 about the city",
        "Story 4 about the city",
    ]
