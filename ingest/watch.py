"""Live ingest runs: one URL into the store (`ingest_url`), the watched sources on their schedule
(`Watcher`), and retention (`prune_before`).

A source that fails keeps its place with a longer wait (the registry's backoff) and its error shown;
whatever goes wrong with one source is recorded on it and the next one is polled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.fetch import Fetcher, FetchPolicy
from ingest.loaders.base import LoadedItem
from ingest.state import HttpCache, PollRecord, Source, SourceRegistry, SourceStatus
from ingest.web import WebLoader, WebOptions
from rag.catalog import ArticleFilter
from rag.models import IngestReport
from rag.settings import Settings
from rag.store import Store

log = logging.getLogger("newsrag.watch")

Progress = Callable[[int], None]
Sink = Callable[[Iterable[LoadedItem], Progress | None], IngestReport]
"""Ingests items (the pipeline, under whatever lock the caller needs) and reports."""

MAX_IDLE = 30.0  # seconds the watcher sleeps at most, so sources added meanwhile are seen soon


@dataclass(frozen=True)
class UrlRun:
    """One URL fetched and ingested: the pipeline's report and what fetching did."""

    url: str
    report: IngestReport
    error: str | None  # the URL itself failed; its entries' failures are in report.failed
    not_modified: int
    skipped_old: int
    requests: int
    conditional: int

    @property
    def status(self) -> SourceStatus:
        if self.error is not None:
            return "error"
        if self.report.failed:
            return "partial"
        report = self.report
        if self.not_modified and not report.added + report.updated + report.unchanged + report.duplicates:
            return "not_modified"
        return "ok"


@dataclass(frozen=True)
class ProgressHooks:
    """Per-URL progress: `start(label)` returns (articles done, articles found) callbacks and a closer."""

    start: Callable[[str], tuple[Progress, Progress, Callable[[], None]]]


def merge_reports(reports: Iterable[IngestReport]) -> IngestReport:
    """Several runs' reports as one (files and URLs of one `newsrag ingest`)."""
    total = IngestReport()
    for r in reports:
        total = IngestReport(
            added=total.added + r.added,
            updated=total.updated + r.updated,
            unchanged=total.unchanged + r.unchanged,
            duplicates=total.duplicates + r.duplicates,
            failed=total.failed + r.failed,
            chunks=total.chunks + r.chunks,
            seconds=round(total.seconds + r.seconds, 3),
        )
    return total


def web_options(settings: Settings, follow_links: bool = True, now: datetime | None = None) -> WebOptions:
    cutoff = None
    if settings.retention_days:
        cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.retention_days)
    return WebOptions(max_chars=settings.max_article_chars, follow_links=follow_links, not_before=cutoff)


def ingest_url(
    url: str,
    fetcher: Fetcher,
    options: WebOptions,
    sink: Sink,
    progress: Progress | None = None,
    on_found: Progress | None = None,
) -> UrlRun:
    """Fetch `url` (and what it links to) into the store; the HTTP cache learns the new validators
    only after the pipeline has stored everything."""
    before = (fetcher.stats.requests, fetcher.stats.conditional)
    loader = WebLoader(fetcher, options, on_found)
    report = sink(loader.load(url), progress)
    fetcher.commit()
    return UrlRun(
        url=url,
        report=report,
        error=loader.tally.root_error,
        not_modified=loader.tally.not_modified,
        skipped_old=loader.tally.skipped_old,
        requests=fetcher.stats.requests - before[0],
        conditional=fetcher.stats.conditional - before[1],
    )


@dataclass(frozen=True)
class SourcePoll:
    source: Source
    run: UrlRun | None
    error: str | None

    @property
    def status(self) -> SourceStatus:
        return "error" if self.run is None else self.run.status


def _first_error(run: UrlRun) -> str | None:
    if run.error is not None:
        return run.error
    if run.report.failed:
        first = run.report.failed[0]
        more = len(run.report.failed) - 1
        where = f"{first.item}: " if first.item else ""
        return f"{where}{first.error}" + (f" (and {more} more failed)" if more else "")
    return None


@dataclass(eq=False)
class Watcher:
    """Polls the registry's sources: the due ones, or all of them (`poll(everything=True)`)."""

    settings: Settings
    registry: SourceRegistry
    cache: HttpCache
    sink: Sink
    prune: Callable[[datetime], int] | None = None
    hooks: ProgressHooks | None = None

    def due(self, now: datetime) -> list[Source]:
        return [s for s in self.registry.list() if s.next_due_at <= now]

    def poll(self, everything: bool = False, now: datetime | None = None) -> list[SourcePoll]:
        """`now` decides what is due and where the retention window starts (tests move it)."""
        now = now or datetime.now(UTC)
        sources = self.registry.list() if everything else self.due(now)
        polls: list[SourcePoll] = []
        if not sources:
            return polls
        with Fetcher(FetchPolicy.of(self.settings), self.cache) as fetcher:
            for source in sources:
                polls.append(self._poll_one(source, fetcher, now))
        if self.prune is not None and self.settings.retention_days:
            removed = self.prune(now - timedelta(days=self.settings.retention_days))
            if removed:
                log.info("retention: pruned %d articles older than %d days", removed, self.settings.retention_days)
        return polls

    def _poll_one(self, source: Source, fetcher: Fetcher, now: datetime) -> SourcePoll:
        done: Progress | None = None
        found: Progress | None = None
        close: Callable[[], None] | None = None
        if self.hooks is not None:
            done, found, close = self.hooks.start(source.label)
        try:
            options = web_options(self.settings, follow_links=not source.summary_only, now=now)
            run = ingest_url(source.url, fetcher, options, self.sink, done, found)
        except Exception as exc:  # one source's failure (store, embedder, a bug) never stops the others
            log.warning("source %s failed", source.url, exc_info=True)
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            updated = self.registry.record(source.url, PollRecord("error", message))
            return SourcePoll(updated or source, None, message)
        finally:
            if close is not None:
                close()
        record = PollRecord(run.status, _first_error(run), run.report.added, run.report.updated)
        updated = self.registry.record(source.url, record)
        return SourcePoll(updated or source, run, record.error)

    def seconds_until_due(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        sources = self.registry.list()
        if not sources:
            return MAX_IDLE
        soonest = min(s.next_due_at for s in sources)
        return max(0.0, min(MAX_IDLE, (soonest - now).total_seconds()))

    def run(self, stop: threading.Event, on_polls: Callable[[list[SourcePoll]], None] | None = None) -> None:
        """Poll what is due until `stop` is set."""
        while not stop.is_set():
            try:
                polls = self.poll()
            except Exception:  # the registry or the store itself: log, wait, try again
                log.exception("watch cycle failed")
                polls = []
            if polls and on_polls is not None:
                on_polls(polls)
            stop.wait(self.seconds_until_due())


def prune_before(store: Store, cutoff: datetime, batch: int = 200) -> int:
    """Delete every article published before `cutoff` (undated articles stay), through the Store."""
    until_ts = int(cutoff.timestamp()) - 1
    removed = 0
    while True:
        old = store.catalog.list(ArticleFilter(until_ts=until_ts), limit=batch)
        if not old:
            return removed
        deleted = sum(int(store.delete(article.id)) for article in old)
        if not deleted:  # nothing could be deleted: do not loop on the same page
            return removed
        removed += deleted
