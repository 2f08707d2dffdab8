"""Live news over HTTP: URLs posted to /v1/articles, watched sources (POST/DELETE /v1/sources; they are
listed in GET /v1/sources as `watched`), and the poller inside the server (`with_watcher`, for
`newsrag serve --watch`).

Fetching runs outside the ingest lock; only the pipeline's writes take it, so a slow site never holds
up other ingests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Services, require_writer, services
from api.routes.jobs import JobProgress, jobs_of
from api.schemas import (
    ERRORS,
    REPORT_COUNTS,
    Deleted,
    SourceIn,
    UrlIngestResult,
    UrlItemResult,
    UrlResult,
    UrlsIn,
)
from ingest.fetch import Fetcher, FetchPolicy, check_url
from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.state import Source, SqliteWebState, parse_every
from ingest.watch import (
    Progress,
    Sink,
    SourcePoll,
    UrlRun,
    Watcher,
    ingest_url,
    merge_reports,
    prune_before,
    web_options,
)
from rag.chain import NewsQA
from rag.errors import Forbidden, NotFound, StoreUnavailable
from rag.models import IngestReport

router = APIRouter(tags=["sources"])
log = logging.getLogger("newsrag.api")
JOB_THRESHOLD = 5  # more URLs than this (feeds expand to many pages) run as a job


def web_state(svc: Services, qa: NewsQA | None = None) -> SqliteWebState:
    generation = qa.runtime.store.catalog.get_meta("collection_id") if qa is not None else None
    return SqliteWebState(svc.settings.web_state_path, generation)


def locked_sink(svc: Services, qa: NewsQA, seen: list[LoadedItem] | None = None) -> Sink:
    """The pipeline under the process's ingest lock; items are fetched first, outside it."""

    def sink(items: Iterable[LoadedItem], progress: Progress | None) -> IngestReport:
        fetched = list(items)
        if seen is not None:
            seen.extend(fetched)
        runtime = qa.runtime
        with svc.ingest_lock:
            report = ingest(fetched, runtime.store, runtime.embedder, svc.settings, progress)
            qa.retriever.refresh_outlets()
        return report

    return sink


def _url_result(run: UrlRun) -> UrlResult:
    return UrlResult(
        url=run.url,
        status=run.status,
        error=run.error,
        **run.report.model_dump(include=REPORT_COUNTS),
        failed=len(run.report.failed),
        not_modified=run.not_modified,
        skipped_old=run.skipped_old,
        requests=run.requests,
        conditional=run.conditional,
    )


def _item_results(items: list[LoadedItem], report: IngestReport) -> list[UrlItemResult]:
    failures = {(f.path, f.item): f.error for f in report.failed}
    results: list[UrlItemResult] = []
    for item in items:
        error = item.error or failures.get((item.path, item.item))
        article_id = item.article.id if item.article else None
        results.append(UrlItemResult(url=item.path, item=item.item, id=article_id, ok=error is None, error=error))
    return results


def run_urls(
    svc: Services,
    qa: NewsQA,
    body: UrlsIn,
    on_article: Progress | None = None,
    on_url: Callable[[], None] | None = None,
) -> UrlIngestResult:
    """Blocking: fetch and ingest each URL in turn, one result per URL and per item."""
    settings = svc.settings
    runs: list[UrlRun] = []
    items: list[LoadedItem] = []
    options = web_options(settings, follow_links=not body.summary_only)
    with web_state(svc, qa) as state, Fetcher(FetchPolicy.of(settings), state.cache) as fetcher:
        for url in body.urls:
            seen: list[LoadedItem] = []
            runs.append(ingest_url(url, fetcher, options, locked_sink(svc, qa, seen), on_article))
            items.extend(seen)
            if on_url is not None:
                on_url()
    report = merge_reports(run.report for run in runs)
    svc.metrics.count_ingest(report.added, report.updated, report.unchanged, report.duplicates, len(report.failed))
    return UrlIngestResult.of(
        report, len(report.failed), urls=[_url_result(run) for run in runs], items=_item_results(items, report)
    )


async def add_urls(request: Request, qa: NewsQA, body: UrlsIn) -> UrlIngestResult | JSONResponse:
    """`POST /v1/articles {"urls": [...]}`: at once for a few URLs, else a job (202)."""
    svc = services(request)
    for url in body.urls:
        await run_in_threadpool(check_url, url, svc.settings.fetch_allow_private, False)
    if len(body.urls) <= JOB_THRESHOLD and not body.background:
        return await run_in_threadpool(run_urls, svc, qa, body)

    def work(progress: JobProgress) -> UrlIngestResult:
        return run_urls(svc, qa, body, progress.articles, progress.url_done)

    job = jobs_of(request.app).submit(len(body.urls), work)
    return JSONResponse(job.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


def require_admin(request: Request) -> None:
    """Adding or removing sources makes the server fetch URLs for ever: when keys are configured,
    only an admin key may (with reader keys only, nobody may)."""
    settings = services(request).settings
    require_writer(request)  # no key, or an unknown one: 401; a reader key where admin keys exist: 403
    if settings.api_keys and not settings.admin_keys:
        raise Forbidden("watching sources needs an admin key, and none is configured (NEWSRAG_ADMIN_KEYS)")


@router.post(
    "/v1/sources",
    response_model=Source,
    status_code=201,
    summary="Watch a feed, sitemap or page URL on a schedule (an admin key when keys are configured)",
    dependencies=[Depends(require_admin)],
    responses=ERRORS,
)
async def add_source(body: SourceIn, request: Request) -> Source:
    svc = services(request)
    every = parse_every(body.every)
    url = await run_in_threadpool(check_url, body.url, svc.settings.fetch_allow_private)

    def add() -> Source:
        with web_state(svc) as state:
            return state.add(url, every, body.name, summary_only=body.summary_only)

    return await run_in_threadpool(add)


@router.delete(
    "/v1/sources",
    response_model=Deleted,
    summary="Stop watching a URL (its articles stay)",
    dependencies=[Depends(require_admin)],
    responses=ERRORS,
)
async def remove_source(
    request: Request, url: Annotated[str, Query(min_length=1, max_length=2_000, description="The source URL.")]
) -> Deleted:
    svc = services(request)

    def remove() -> bool:
        with web_state(svc) as state:
            return state.remove(url.strip())

    if not await run_in_threadpool(remove):
        raise NotFound(f"no watched source {url!r}")
    return Deleted(deleted=url)


def watched_sources(svc: Services) -> list[Source]:
    """For GET /v1/sources (blocking)."""
    with web_state(svc) as state:
        return state.list()


# ------------------------------------------------------------------------------------- watcher


def _watch(svc: Services, stop: threading.Event) -> None:
    """The poller's thread: the app's own store and ingest lock, until the server stops."""
    while not stop.is_set():
        try:
            qa = svc.connect()
        except StoreUnavailable as exc:
            log.warning("watcher waiting for the store: %s", exc.message)
            stop.wait(30)
            continue

        def prune(cutoff: datetime, qa: NewsQA = qa) -> int:
            with svc.ingest_lock:
                removed = prune_before(qa.runtime.store, cutoff)
                qa.retriever.refresh_outlets()
            return removed

        try:
            with web_state(svc, qa) as state:
                Watcher(svc.settings, state, state.cache, locked_sink(svc, qa), prune=prune).run(stop, _log_polls)
        except Exception:  # the state file, say: log it and try again later, never take the server down
            log.exception("watcher failed; retrying in 30 s")
            stop.wait(30)


def _log_polls(polls: list[SourcePoll]) -> None:
    for poll in polls:
        log.info("source %s: %s%s", poll.source.label, poll.status, f" ({poll.error})" if poll.error else "")


def with_watcher(app: FastAPI) -> FastAPI:
    """Run the poller beside the app: started after the app's own start-up, stopped before its close."""
    inner = app.router.lifespan_context
    svc: Services = app.state.services

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with inner(app_):
            stop = threading.Event()
            thread = threading.Thread(target=_watch, args=(svc, stop), name="newsrag-watch", daemon=True)
            thread.start()
            try:
                yield
            finally:
                stop.set()
                await run_in_threadpool(thread.join, 60)

    app.router.lifespan_context = lifespan
    return app
