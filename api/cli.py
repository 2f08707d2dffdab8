"""The `newsrag` command: the other interface over the same core as the HTTP API.

Exit codes: 0 success, 1 some items failed or a runtime error, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from rag.errors import EXIT_FAILED, EXIT_OK, ConfigError, run_command
from rag.settings import Settings, load_settings, prepare_environment

if TYPE_CHECKING:
    from rag.models import Answer


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
def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.loaders import LoadOptions, load_many
    from ingest.pipeline import ingest
    from rag.runtime import open_runtime

    settings = _settings(args)
    runtime = open_runtime(settings)
    try:
        items = load_many(args.paths, LoadOptions(max_chars=settings.max_article_chars))
        show_bar = sys.stderr.isatty() and not args.json
        bar_context: Any = nullcontext(None)
        if show_bar:
            from tqdm import tqdm

            bar_context = tqdm(unit=" articles", desc="ingest", file=sys.stderr)
        with bar_context as bar:
            progress: Callable[[int], None] | None = bar.update if bar is not None else None
            report = ingest(items, runtime.store, runtime.embedder, settings, progress)
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
        for failure in report.failed:
            where = f"{failure.path}:{failure.item}" if failure.item else failure.path
            print(f"  failed {where}: {failure.error}", file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


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

        uvicorn.run(
            create_app(settings), host=args.host, port=args.port, log_level=args.log_level, timeout_graceful_shutdown=5
        )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsrag", description="Cited answers over news articles.")
    parser.add_argument("--version", action="version", version=f"newsrag {_version()}")
    parser.add_argument("--data-dir", help="data folder (default: NEWSRAG_DATA_DIR or ./.newsrag)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="load, chunk, embed and store articles")
    p.add_argument("paths", nargs="+", help="files or folders (.jsonl .json .md .txt .html .xml .rss .atom), '-'")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("status", help="where the store is and what it holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("ask", help="answer a question with cited sources")
    p.add_argument("question")
    p.add_argument("--source", action="append", help="only this outlet (repeatable)")
    p.add_argument("--since", help="published on or after (YYYY-MM-DD)")
    p.add_argument("--until", help="published on or before (YYYY-MM-DD)")
    p.add_argument("--as-of", dest="as_of", help="answer as of this date (default: now)")
    p.add_argument("--k", type=int, help="how many chunks to retrieve")
    p.add_argument("--json", action="store_true", help="print the Answer object as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the HTTP API and chat page")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (more than 1 needs NEWSRAG_CHROMA_URL)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)

    from evals.cli import add_eval_parser

    add_eval_parser(sub)

    articles = sub.add_parser("articles", help="list or delete stored articles")
    asub = articles.add_subparsers(dest="articles_command", required=True)
    p = asub.add_parser("list")
    p.add_argument("--source", action="append", help="outlet (repeatable)")
    p.add_argument("--since", help="published on or after (YYYY-MM-DD)")
    p.add_argument("--until", help="published on or before (YYYY-MM-DD)")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_articles_list)
    p = asub.add_parser("delete")
    p.add_argument("id")
    p.set_defaults(func=cmd_articles_delete)
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
