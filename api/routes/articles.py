"""Articles: ingest a JSON list (the CLI's validation, per-item results), list, get, delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Services, get_qa, require_reader, require_writer, services
from api.routes.sources import add_urls, watched_sources
from api.schemas import (
    ERRORS,
    ArticleIn,
    ArticleOut,
    ArticlePage,
    ArticleSummary,
    CorpusInfo,
    Deleted,
    IngestResult,
    ItemResult,
    OutletCount,
    UrlIngestResult,
    UrlsIn,
)
from ingest.loaders.base import LoadedItem
from ingest.pipeline import ingest
from ingest.validate import RawArticle, validate
from rag.catalog import ArticleFilter
from rag.chain import NewsQA
from rag.dates import DateWindow
from rag.errors import ArticleInvalid, NotFound, PayloadTooLarge

router = APIRouter(tags=["articles"])
ORIGIN = "api"


def _has_bad_text(value: Any, depth: int = 0) -> bool:
    """Lone surrogates anywhere in a record (valid JSON, but no store can hold them)."""
    if depth > 20:
        return True
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(_has_bad_text(k, depth + 1) or _has_bad_text(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_bad_text(v, depth + 1) for v in value)
    return False


def load_records(records: list[dict[str, Any]], max_chars: int) -> list[LoadedItem]:
    """The CLI's validation (RawArticle.from_mapping + validate) for each record; never raises."""
    items: list[LoadedItem] = []
    for i, record in enumerate(records):
        where = str(i)
        if _has_bad_text(record):
            items.append(LoadedItem(ORIGIN, where, error="text is not valid Unicode (lone surrogate)"))
            continue
        try:
            article = validate(RawArticle.from_mapping(record), max_chars, f"{ORIGIN}:{i}")
        except ArticleInvalid as exc:
            field = f" [{exc.field}]" if exc.field else ""
            items.append(LoadedItem(ORIGIN, where, error=f"{exc.message}{field}"))
            continue
        except (ValueError, TypeError, OverflowError) as exc:  # odd values the validator did not foresee
            items.append(LoadedItem(ORIGIN, where, error=f"invalid article: {exc}"))
            continue
        items.append(LoadedItem(ORIGIN, where, article=article))
    return items


def _split_field(error: str) -> tuple[str, str | None]:
    if error.endswith("]") and " [" in error:
        message, _, field = error[:-1].rpartition(" [")
        return message, field
    return error, None


def run_ingest(svc: Services, qa: NewsQA, records: list[dict[str, Any]]) -> IngestResult:
    """Blocking: validate, ingest through the pipeline, refresh the retriever's outlet list."""
    settings = svc.settings
    items = load_records(records, settings.max_article_chars)
    runtime = qa.runtime
    with svc.ingest_lock:
        report = ingest(items, runtime.store, runtime.embedder, settings)
        qa.retriever.refresh_outlets()
    failures = {f.item: f.error for f in report.failed if f.path == ORIGIN}
    results: list[ItemResult] = []
    for i, item in enumerate(items):
        error = failures.get(str(i)) or item.error
        if error is None:
            results.append(ItemResult(index=i, id=item.article.id if item.article else None, ok=True))
        else:
            message, field = _split_field(error)
            results.append(
                ItemResult(index=i, id=item.article.id if item.article else None, ok=False, error=message, field=field)
            )
    failed = sum(not r.ok for r in results)
    svc.metrics.count_ingest(report.added, report.updated, report.unchanged, report.duplicates, failed)
    return IngestResult.of(report, failed, items=results)


@router.post(
    "/v1/articles",
    response_model=IngestResult | UrlIngestResult,
    summary="Ingest articles (a JSON list) or URLs; one result per article (a job id for large URL batches)",
    dependencies=[Depends(require_writer)],
    responses=ERRORS,
)
async def add_articles(
    articles: Annotated[
        list[ArticleIn] | UrlsIn,
        Body(description='The articles, as JSON objects; or `{"urls": [...]}` to fetch feeds, sitemaps or pages.'),
    ],
    request: Request,
    qa: NewsQA = Depends(get_qa),
) -> IngestResult | UrlIngestResult | JSONResponse:
    if isinstance(articles, UrlsIn):
        return await add_urls(request, qa, articles)
    svc = services(request)
    limit = svc.settings.max_articles_per_request
    if len(articles) > limit:
        raise PayloadTooLarge(f"{len(articles):,} articles in one request; the limit is {limit:,}")
    records = [a.model_dump() for a in articles]
    return await run_in_threadpool(run_ingest, svc, qa, records)


def _filter(sources: list[str] | None, since: str | None, until: str | None) -> ArticleFilter:
    window = DateWindow.parse(since, until)
    return ArticleFilter(
        sources=tuple(s for s in (sources or ()) if s.strip()),
        since_ts=window.since_ts,
        until_ts=window.until_ts,
    )


@router.get(
    "/v1/articles",
    response_model=ArticlePage,
    summary="List stored articles, newest first",
    dependencies=[Depends(require_reader)],
    responses=ERRORS,
)
async def list_articles(
    qa: NewsQA = Depends(get_qa),
    sources: Annotated[
        list[Annotated[str, Query(max_length=200)]] | None,
        Query(max_length=50, description="Only these outlets (repeat the parameter for several)."),
    ] = None,
    since: Annotated[str | None, Query(max_length=64, description="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, Query(max_length=64, description="Published on or before (YYYY-MM-DD).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="Articles to skip.")] = 0,
) -> ArticlePage:
    flt = _filter(sources, since, until)
    catalog = qa.runtime.store.catalog

    def page() -> ArticlePage:
        items = catalog.list(flt, limit=limit, offset=offset)
        return ArticlePage(
            total=catalog.count(flt), limit=limit, offset=offset, items=[ArticleSummary.of(a) for a in items]
        )

    return await run_in_threadpool(page)


@router.get(
    "/v1/articles/{article_id}",
    response_model=ArticleOut,
    summary="One article with its full text",
    dependencies=[Depends(require_reader)],
    responses=ERRORS,
)
async def get_article(article_id: str, qa: NewsQA = Depends(get_qa)) -> ArticleOut:
    article = await run_in_threadpool(qa.runtime.store.catalog.get, article_id)
    if article is None:
        raise NotFound(f"no article with id {article_id!r}")
    return ArticleOut.of(article)


@router.delete(
    "/v1/articles/{article_id}",
    response_model=Deleted,
    summary="Delete an article and all its passages",
    dependencies=[Depends(require_writer)],
    responses=ERRORS,
)
async def delete_article(article_id: str, request: Request, qa: NewsQA = Depends(get_qa)) -> Deleted:
    svc = services(request)

    def delete() -> bool:
        if qa.runtime.store.catalog.get(article_id) is None:
            return False
        with svc.ingest_lock:
            deleted = qa.runtime.store.delete(article_id)
            qa.retriever.refresh_outlets()
        return deleted

    if not await run_in_threadpool(delete):
        raise NotFound(f"no article with id {article_id!r}")
    return Deleted(deleted=article_id)


@router.get(
    "/v1/sources",
    response_model=CorpusInfo,
    summary="What the corpus holds: outlets and date range (for filter menus), and the watched sources",
    dependencies=[Depends(require_reader)],
    responses=ERRORS,
)
async def corpus(request: Request, qa: NewsQA = Depends(get_qa)) -> CorpusInfo:
    catalog = qa.runtime.store.catalog

    def info() -> CorpusInfo:
        oldest, newest = catalog.date_range()
        return CorpusInfo(
            articles=catalog.count(),
            sources=[OutletCount(name=k, articles=v) for k, v in catalog.sources().items()],
            oldest=oldest,
            newest=newest,
            mode=qa.mode,
            watched=watched_sources(services(request)),
        )

    return await run_in_threadpool(info)
