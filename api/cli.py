"""The `newsrag` command: the other interface over the same core as the HTTP API.

Exit codes: 0 success, 1 some items failed or a runtime error, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from rag.errors import EXIT_FAILED, EXIT_OK, ConfigError, InvalidInput, run_command
from rag.settings import Settings, load_settings, prepare_environment

if TYPE_CHECKING:
    from ingest.loaders.base import LoadedItem
    from ingest.state import Source, SqliteWebState
    from ingest.watch import ProgressHooks, Sink, SourcePoll, UrlRun
    from rag.models import Answer, IngestReport
    from rag.runtime import Runtime


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsrag")
    except PackageNotFoundError:  # a source checkout that was never installed
        return "unknown (not installed)"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    return load_settings(**overrides)


# ---------- ingest ----------
def _is_url(arg: str) -> bool:
    return "://" in arg


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.loaders import LoadOptions, load_many
    from ingest.pipeline import ingest
    from ingest.watch import merge_reports
    from rag.runtime import open_runtime

    settings = _settings(args)
    runtime = open_runtime(settings)
    paths = [p for p in args.paths if not _is_url(p)]
    urls = [p for p in args.paths if _is_url(p)]
    try:
        items = load_many(paths, LoadOptions(max_chars=settings.max_article_chars))
        show_bar = sys.stderr.isatty() and not args.json
        bar_context: Any = nullcontext(None)
        if show_bar and paths:
            from tqdm import tqdm

            bar_context = tqdm(unit=" articles", desc="ingest", file=sys.stderr)
        with bar_context as bar:
            progress: Callable[[int], None] | None = bar.update if bar is not None else None
            report = ingest(items, runtime.store, runtime.embedder, settings, progress)
        runs = _ingest_urls(urls, settings, runtime, summary_only=args.summary_only, show_bar=show_bar) if urls else []
        report = merge_reports([report, *(run.report for run in runs)])
    finally:
        runtime.close()
    summary = {
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "duplicates": report.duplicates,
        "failed": [f.model_dump() for f in report.failed],
        "chunks": report.chunks,
        "seconds": report.seconds,
    }
    if runs:
        summary["urls"] = [_url_summary(run) for run in runs]
    if args.json:
        _print_json(summary)
    else:
        total = report.added + report.updated + report.unchanged + report.duplicates
        rate = total / report.seconds if report.seconds else 0.0
        print(
            f"ingested {total} articles in {report.seconds:.1f}s ({rate:.1f}/s): "
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.duplicates} duplicates, {len(report.failed)} failed; {report.chunks} chunks written"
        )
        for run in runs:
            print(f"  {run.url}: {_url_line(run)}")
        for failure in report.failed:
            where = f"{failure.path}:{failure.item}" if failure.item else failure.path
            print(f"  failed {where}: {failure.error}", file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


# ---------- URLs, sources, watch ----------
def _url_summary(run: UrlRun) -> dict[str, Any]:
    r = run.report
    return {
        "url": run.url,
        "status": run.status,
        "error": run.error,
        "added": r.added,
        "updated": r.updated,
        "unchanged": r.unchanged,
        "duplicates": r.duplicates,
        "failed": len(r.failed),
        "not_modified": run.not_modified,
        "skipped_old": run.skipped_old,
        "requests": run.requests,
        "conditional": run.conditional,
    }


def _url_line(run: UrlRun) -> str:
    r = run.report
    if run.error:
        return f"error: {run.error}"
    return (
        f"{run.status}: {r.added} added, {r.updated} updated, {r.unchanged} unchanged, {len(r.failed)} failed; "
        f"{run.requests} requests ({run.conditional} conditional), {run.not_modified} not modified"
        + (f", {run.skipped_old} older than the retention window" if run.skipped_old else "")
    )


def _progress_hooks(enabled: bool) -> ProgressHooks | None:
    """A tqdm bar per source on stderr (only on a terminal)."""
    if not enabled:
        return None
    from tqdm import tqdm

    from ingest.watch import ProgressHooks

    def start(label: str) -> tuple[Callable[[int], None], Callable[[int], None], Callable[[], None]]:
        bar = tqdm(unit=" articles", desc=label[:40], total=0, file=sys.stderr)

        def found(n: int) -> None:
            bar.total = (bar.total or 0) + n
            bar.refresh()

        return bar.update, found, bar.close

    return ProgressHooks(start)


def _pipeline_sink(runtime: Runtime) -> Sink:
    from ingest.pipeline import ingest

    def sink(items: Iterable[LoadedItem], progress: Callable[[int], None] | None) -> IngestReport:
        return ingest(items, runtime.store, runtime.embedder, runtime.settings, progress)

    return sink


def _web_state(settings: Settings, runtime: Runtime | None = None) -> SqliteWebState:
    from ingest.state import SqliteWebState

    generation = runtime.store.catalog.get_meta("collection_id") if runtime is not None else None
    return SqliteWebState(settings.web_state_path, generation)


def _ingest_urls(
    urls: list[str], settings: Settings, runtime: Runtime, summary_only: bool, show_bar: bool
) -> list[UrlRun]:
    from ingest.fetch import Fetcher, FetchPolicy
    from ingest.watch import ingest_url, web_options

    hooks = _progress_hooks(show_bar)
    sink = _pipeline_sink(runtime)
    runs: list[UrlRun] = []
    with _web_state(settings, runtime) as state, Fetcher(FetchPolicy.of(settings), state.cache) as fetcher:
        for url in urls:
            done, found, close = hooks.start(url) if hooks else (None, None, None)
            try:
                runs.append(ingest_url(url, fetcher, web_options(settings, not summary_only), sink, done, found))
            finally:
                if close is not None:
                    close()
    return runs


def _source_row(source: Source) -> dict[str, Any]:
    return source.model_dump(mode="json")


def cmd_sources_add(args: argparse.Namespace) -> int:
    from ingest.fetch import check_url
    from ingest.state import parse_every

    settings = _settings(args)
    every = parse_every(args.every)
    url = check_url(args.url, settings.fetch_allow_private)
    with _web_state(settings) as state:
        source = state.add(url, every, args.name, summary_only=args.summary_only)
    if args.json:
        _print_json(_source_row(source))
    else:
        named = f" as {source.name}" if source.name else ""
        print(f"watching {source.url} every {_every_text(source.every_seconds)}{named}")
    return EXIT_OK


def _every_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def cmd_sources_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _web_state(settings) as state:
        sources = state.list()
    if args.json:
        _print_json([_source_row(s) for s in sources])
        return EXIT_OK
    if not sources:
        print("no sources: add one with `newsrag sources add URL`")
    for s in sources:
        fetched = s.last_fetch_at.strftime("%Y-%m-%d %H:%M") if s.last_fetch_at else "never"
        print(
            f"{s.label}  every {_every_text(s.every_seconds)}  {s.status}  last {fetched}  "
            f"next {s.next_due_at:%Y-%m-%d %H:%M}  {s.articles_added} articles added"
        )
        if s.name:
            print(f"    {s.url}")
        if s.last_error:
            print(f"    last error: {s.last_error}")
    return EXIT_OK


def cmd_sources_remove(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _web_state(settings) as state:
        removed = state.remove(args.url.strip())
    if not removed:
        print(f"error: no source {args.url}", file=sys.stderr)
        return EXIT_FAILED
    print(f"removed {args.url}")
    return EXIT_OK


def _print_polls(polls: list[SourcePoll], as_json: bool) -> None:
    if as_json:
        _print_json(
            [
                {"source": _source_row(p.source), "result": _url_summary(p.run) if p.run else None, "error": p.error}
                for p in polls
            ]
        )
        return
    for p in polls:
        line = _url_line(p.run) if p.run else f"error: {p.error}"
        print(f"{p.source.label}: {line}", flush=True)
        if p.run and p.error and not p.run.error:
            print(f"    first failure: {p.error}", flush=True)


def cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading

    from ingest.watch import Watcher, prune_before
    from rag.runtime import open_runtime

    settings = _settings(args)
    runtime = open_runtime(settings)
    with _web_state(settings, runtime) as state:
        watcher = Watcher(
            settings,
            state,
            state.cache,
            _pipeline_sink(runtime),
            prune=lambda cutoff: prune_before(runtime.store, cutoff),
            hooks=_progress_hooks(sys.stderr.isatty() and not args.json),
        )
        if args.once:
            polls = watcher.poll(everything=True)
            runtime.close()
            if not polls:
                print("no sources: add one with `newsrag sources add URL`", file=sys.stderr)
            _print_polls(polls, args.json)
            return EXIT_FAILED if any(p.status in ("error", "partial") for p in polls) else EXIT_OK
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print(f"watching {len(state.list())} sources (Ctrl-C stops)", file=sys.stderr, flush=True)
        try:
            watcher.run(stop, on_polls=lambda polls: _print_polls(polls, args.json))
        except KeyboardInterrupt:
            pass
        finally:
            runtime.close()
    return EXIT_OK


def cmd_articles_prune(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from ingest.watch import prune_before
    from rag.dates import parse_bound
    from rag.runtime import open_runtime

    settings = _settings(args)
    cutoff = parse_bound(args.before, field="before")
    if cutoff is None:
        if not settings.retention_days:
            raise InvalidInput("give --before DATE, or set NEWSRAG_RETENTION_DAYS", field="before")
        cutoff = datetime.now(UTC) - timedelta(days=settings.retention_days)
    runtime = open_runtime(settings)
    removed = prune_before(runtime.store, cutoff)
    runtime.close()
    if args.json:
        _print_json({"pruned": removed, "before": cutoff.isoformat()})
    else:
        print(f"pruned {removed} articles published before {cutoff:%Y-%m-%d %H:%M} UTC")
    return EXIT_OK


# ---------- status ----------
def cmd_status(args: argparse.Namespace) -> int:
    from rag.runtime import open_runtime

    settings = _settings(args)
    runtime = open_runtime(settings)
    try:
        catalog = runtime.store.catalog
        oldest, newest = catalog.date_range()
        sources = catalog.sources()
        store = {
            "mode": runtime.store.vectors.mode,
            "location": runtime.store.vectors.location,
            "collection": settings.collection,
            "catalog": catalog.location,
        }
        status: dict[str, object] = {
            "store": store,
            "embedder": runtime.embedder.name,
            "articles": catalog.count(),
            "chunks": runtime.store.vectors.count(),
            "sources": sources,
            "date_range": {"oldest": oldest, "newest": newest},
        }
    finally:
        runtime.close()
    if args.json:
        _print_json(status)
    else:
        print(f"store      {store['mode']} Chroma at {store['location']}")
        print(f"collection {settings.collection}")
        print(f"embedder   {status['embedder']}")
        print(f"articles   {status['articles']}   chunks {status['chunks']}")
        print(f"dates      {oldest:%Y-%m-%d} .. {newest:%Y-%m-%d}" if oldest and newest else "dates      -")
        for source, n in sources.items():
            print(f"  {n:6d}  {source}")
    return EXIT_OK


# ---------- articles ----------
def cmd_articles_list(args: argparse.Namespace) -> int:
    from rag.catalog import ArticleFilter
    from rag.dates import DateWindow
    from rag.runtime import open_runtime

    window = DateWindow.parse(args.since, args.until)
    flt = ArticleFilter(sources=tuple(args.source or ()), since_ts=window.since_ts, until_ts=window.until_ts)
    runtime = open_runtime(_settings(args))
    try:
        articles = runtime.store.catalog.list(flt, limit=args.limit, offset=args.offset)
    finally:
        runtime.close()
    if args.json:
        _print_json([a.model_dump(mode="json", exclude={"body"}) for a in articles])
        return EXIT_OK
    for a in articles:
        when = a.published_at.strftime("%Y-%m-%d") if a.published_at else "----------"
        print(f"{a.id}  {when}  {(a.source or '-')[:20]:20}  {a.title}")
    return EXIT_OK


def cmd_articles_delete(args: argparse.Namespace) -> int:
    from rag.runtime import open_runtime

    runtime = open_runtime(_settings(args))
    try:
        deleted = runtime.store.delete(args.id)
    finally:
        runtime.close()
    if not deleted:
        print(f"error: no article with id {args.id}", file=sys.stderr)
        return EXIT_FAILED
    print(f"deleted {args.id}")
    return EXIT_OK


# ---------- ask ----------
def format_answer(answer: Answer) -> str:
    from api.render import render

    text = render(answer, quotes=True)
    return text + (f"\n\n(refused: {answer.refusal_reason})" if answer.refused else "")


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.chain import make_qa
    from rag.dates import DateWindow, parse_bound
    from rag.models import Query
    from rag.runtime import open_runtime

    settings = _settings(args)
    window = DateWindow.parse(args.since, args.until)
    query = Query(
        question=args.question,
        sources=tuple(args.source or ()),
        since=window.since,
        until=window.until,
        as_of=parse_bound(args.as_of, end=True, field="as_of"),
        k=args.k,
    )
    runtime = open_runtime(settings)
    try:
        qa = make_qa(runtime)
        try:
            answer = qa.ask(query)
        finally:
            qa.close()
    finally:
        runtime.close()
    if args.json:
        print(answer.model_dump_json(indent=2))
    else:
        print(format_answer(answer))
    return EXIT_OK


# ---------- serve ----------
def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    if getattr(args, "data_dir", None):
        os.environ["NEWSRAG_DATA_DIR"] = str(args.data_dir)  # worker processes build Settings from env
    settings = load_settings()
    if args.workers > 1 and not settings.chroma_url:
        raise ConfigError("--workers > 1 needs a Chroma server (NEWSRAG_CHROMA_URL): embedded Chroma is single-process")
    if args.watch and args.workers > 1:
        raise ConfigError("--watch runs the poller in one process: with --workers > 1 run `newsrag watch` beside it")
    print(f"newsrag serving on http://{args.host}:{args.port}  (API docs: /docs)", flush=True)
    if args.workers > 1:
        from api.metrics import multiprocess_metrics

        with multiprocess_metrics():  # /metrics adds up the workers' samples
            uvicorn.run(
                "api.main:app_factory",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level=args.log_level,
                timeout_graceful_shutdown=5,
            )
    else:
        from api.main import create_app

        app = create_app(settings)
        if args.watch:
            from api.routes.sources import with_watcher

            app = with_watcher(app)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5)
    return EXIT_OK


def _add_filters(p: argparse.ArgumentParser) -> None:
    """The article filters `ask` and `articles list` share (read by both into an ArticleFilter)."""
    p.add_argument("--source", action="append", help="only this outlet (repeatable)")
    p.add_argument("--since", help="published on or after (YYYY-MM-DD)")
    p.add_argument("--until", help="published on or before (YYYY-MM-DD)")


def _command(
    subparsers: Any, name: str, func: Callable[[argparse.Namespace], int], **options: Any
) -> argparse.ArgumentParser:
    """A subcommand that runs `func` with the parsed arguments (`main` calls `args.func`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(name, **options)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsrag", description="Cited answers over news articles.")
    parser.add_argument("--version", action="version", version=f"newsrag {_version()}")
    parser.add_argument("--data-dir", help="data folder (default: NEWSRAG_DATA_DIR or ./.newsrag)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _command(sub, "ingest", cmd_ingest, help="load, chunk, embed and store articles")
    p.add_argument(
        "paths", nargs="+", help="files or folders (.jsonl .json .md .txt .html .xml .rss .atom), '-', or URLs"
    )
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--summary-only", action="store_true", help="feeds: keep entry summaries, do not fetch pages")

    p = _command(sub, "status", cmd_status, help="where the store is and what it holds")
    p.add_argument("--json", action="store_true")

    p = _command(sub, "ask", cmd_ask, help="answer a question with cited sources")
    p.add_argument("question")
    _add_filters(p)
    p.add_argument("--as-of", dest="as_of", help="answer as of this date (default: now)")
    p.add_argument("--k", type=int, help="how many chunks to retrieve")
    p.add_argument("--json", action="store_true", help="print the Answer object as JSON")

    p = _command(sub, "serve", cmd_serve, help="run the HTTP API and chat page")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (more than 1 needs NEWSRAG_CHROMA_URL)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--watch", action="store_true", help="also poll the watched sources, inside the server")

    sources = sub.add_parser("sources", help="feeds, sitemaps and pages polled on a schedule")
    ssub = sources.add_subparsers(dest="sources_command", required=True)
    p = _command(ssub, "add", cmd_sources_add, help="watch a URL (due at once); adding it again changes its schedule")
    p.add_argument("url")
    p.add_argument("--every", default="15m", help="how often: 15m, 2h, 1d (default 15m)")
    p.add_argument("--name", help="a label for lists and progress bars")
    p.add_argument("--summary-only", action="store_true", help="keep feed summaries, do not fetch the pages")
    p.add_argument("--json", action="store_true")
    p = _command(ssub, "list", cmd_sources_list, help="sources with last fetch, status, last error, articles added")
    p.add_argument("--json", action="store_true")
    p = _command(ssub, "remove", cmd_sources_remove, help="stop watching a URL (its articles stay)")
    p.add_argument("url")

    p = _command(sub, "watch", cmd_watch, help="poll the sources that are due, until stopped")
    p.add_argument("--once", action="store_true", help="poll every source now and exit (for cron)")
    p.add_argument("--json", action="store_true")

    from evals.cli import add_eval_parser

    add_eval_parser(sub)

    articles = sub.add_parser("articles", help="list, delete or prune stored articles")
    asub = articles.add_subparsers(dest="articles_command", required=True)
    p = _command(asub, "list", cmd_articles_list)
    _add_filters(p)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p = _command(asub, "delete", cmd_articles_delete)
    p.add_argument("id")
    p = _command(asub, "prune", cmd_articles_prune, help="delete articles published before a date (retention)")
    p.add_argument("--before", help="YYYY-MM-DD or ISO 8601 (default: now minus NEWSRAG_RETENTION_DAYS)")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prepare_environment()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run_command(lambda: args.func(args))
    except BrokenPipeError:  # `newsrag ... | head`
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
