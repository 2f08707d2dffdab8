"""Live-ingest benchmark: articles/s from a local feed with linked pages against the same articles from
a JSONL file, in the same run.

    .venv/bin/python benchmarks/feeds.py                 # 500 entries (several minutes)
    .venv/bin/python benchmarks/feeds.py --articles 100  # a smoke run

A generated corpus (benchmarks/ingest.py's generator, deterministic) is written as JSONL and served by a
local HTTP server (a thread of this process, 127.0.0.1) as an RSS feed whose entries carry only a
summary and link to one HTML page per article (JSON-LD NewsArticle, navigation and footer around the
text). Each stage runs in its own subprocess with the model loaded and warmed before the clock starts:

  jsonl       `ingest()` of the JSONL file into a fresh data folder
  feed        `newsrag ingest URL`'s path: fetch the feed, follow every entry to its page (robots.txt,
              conditional GET bookkeeping, HTML extraction), `ingest()` into a fresh data folder
  fetch-only  the same fetching and extraction with no ingest (what fetching itself costs)
  repoll      the feed again into the folder `feed` filled: a 304, nothing else
  jsonl #2    the JSONL ingest again; the feed is compared with the mean of the two JSONL runs

Target (issue 10): fetching adds at most 20% to the time of the JSONL ingest when the server is local.
Fetch settings: per-host concurrency 4, no delay between requests (it is our own server).
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path and benchmarks/ingest.py would shadow `ingest`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from benchmarks.ingest import generate_corpus, write_corpus  # noqa: E402

LAST_MODIFIED = "Thu, 01 Jan 2026 00:00:00 GMT"
FETCH = {
    "NEWSRAG_FETCH_ALLOW_PRIVATE": "true",
    "NEWSRAG_FETCH_PER_HOST_CONCURRENCY": "4",
    "NEWSRAG_FETCH_PER_HOST_DELAY": "0",
}


# ------------------------------------------------------------------------------------------ the site


def page_for(record: dict[str, Any]) -> bytes:
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": record["title"],
        "datePublished": record["published_at"],
        "author": {"@type": "Person", "name": record["author"]},
        "publisher": {"@type": "Organization", "name": record["source"]},
    }
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in record["body"].split("\n\n"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(record['title'])} | {html.escape(record['source'])}</title>"
        f"<link rel='canonical' href='{record['url']}'>"
        f"<script type='application/ld+json'>{json.dumps(ld)}</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a> <a href='/business'>Business</a></nav>"
        f"<article><h1>{html.escape(record['title'])}</h1>{paragraphs}</article>"
        "<footer>Copyright, all rights reserved. <a href='/about'>About us</a></footer></body></html>"
    ).encode()


def feed_for(records: list[dict[str, Any]], base: str) -> bytes:
    items = []
    for n, record in enumerate(records):
        summary = html.escape(record["body"].split(". ")[0] + ".")
        items.append(
            f"<item><title>{html.escape(record['title'])}</title><link>{base}/a/{n}</link>"
            f"<guid>{base}/a/{n}</guid><description>{summary}</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Bench Feed</title>"
        f"<link>{base}/</link><description>generated</description>{''.join(items)}</channel></rss>"
    ).encode()


class Site:
    """The feed and its pages, with ETags (the re-poll gets its 304)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.feed = feed_for(records, self.base)
        self.pages = [page_for(r) for r in records]
        self.requests = 0
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                site.requests += 1
                if self.path == "/feed.xml":
                    body, kind = site.feed, "application/rss+xml"
                elif self.path.startswith("/a/") and self.path[3:].isdigit() and int(self.path[3:]) < len(site.pages):
                    body, kind = site.pages[int(self.path[3:])], "text/html; charset=utf-8"
                else:
                    body, kind = b"not found", "text/plain"
                    self.send_response(404)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


# ------------------------------------------------------------------------------------------- stages


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(name: str, source: str, data_dir: Path) -> dict[str, Any]:
    from rag.settings import Settings, prepare_environment

    prepare_environment()
    from ingest.fetch import Fetcher, FetchPolicy
    from ingest.loaders import LoadOptions, load
    from ingest.pipeline import ingest
    from ingest.state import SqliteWebState
    from ingest.watch import ingest_url, web_options
    from ingest.web import WebLoader
    from rag.runtime import open_runtime

    settings = Settings(_env_file=None, data_dir=data_dir)
    if name == "fetch-only":
        started = time.perf_counter()
        with Fetcher(FetchPolicy.of(settings)) as fetcher:
            items = list(WebLoader(fetcher, web_options(settings)).load(source))
        seconds = time.perf_counter() - started
        ok = sum(i.article is not None for i in items)
        chars = sum(len(i.article.body) for i in items if i.article)
        return {"seconds": seconds, "articles": ok, "failed": len(items) - ok, "body_chars": chars}
    runtime = open_runtime(settings)
    runtime.embedder.embed_documents(["warm up the model before the clock starts"])

    def sink(items: Any, progress: Any) -> Any:
        return ingest(items, runtime.store, runtime.embedder, settings, progress)

    started, cpu_started = time.perf_counter(), time.process_time()
    requests = 0
    if name == "jsonl":
        report = sink(load(source, LoadOptions(settings.max_article_chars)), None)
    else:
        state = SqliteWebState(settings.web_state_path, runtime.store.catalog.get_meta("collection_id"))
        with Fetcher(FetchPolicy.of(settings), state.cache) as fetcher:
            run = ingest_url(source, fetcher, web_options(settings), sink)
        state.close()
        report, requests = run.report, run.requests
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "articles": report.added + report.updated + report.unchanged + report.duplicates,
        "added": report.added,
        "failed": len(report.failed),
        "chunks": report.chunks,
        "requests": requests,
        "peak_mb": _peak_mb(),
    }
    runtime.close()
    return result


def _run_stage(name: str, source: str, data_dir: Path) -> dict[str, Any]:
    env = {**os.environ, **FETCH, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env = {k: v for k, v in env.items() if not (k.startswith("NEWSRAG_") and k not in FETCH)}
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--stage",
            name,
            "--source",
            source,
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise SystemExit(f"stage {name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--stage", choices=["jsonl", "feed", "fetch-only", "repoll"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print("RESULT " + json.dumps(stage(args.stage, args.source, args.data_dir)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="newsrag-feeds-bench-"))
    try:
        records = generate_corpus(args.articles, args.seed)
        corpus = write_corpus(work / "corpus.jsonl", records)
        print(
            f"{args.articles} articles; {platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        with Site(records) as site:
            feed_url = site.base + "/feed.xml"
            results = {
                "jsonl": _run_stage("jsonl", str(corpus), work / "jsonl"),
                "feed": _run_stage("feed", feed_url, work / "feed"),
                "fetch-only": _run_stage("fetch-only", feed_url, work / "fetch-only"),
                "repoll": _run_stage("repoll", feed_url, work / "feed"),
                "jsonl #2": _run_stage("jsonl", str(corpus), work / "jsonl-2"),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, r in results.items():
        rate = r["articles"] / r["seconds"] if r["seconds"] else 0.0
        extra = f"{r.get('chunks', '-')} chunks, {r.get('requests', '-')} requests, {r['failed']} failed"
        print(f"{name:<10} {r['seconds']:8.1f} s  {r['articles']:5d} articles  {rate:8.2f} articles/s  {extra}")
    jsonl = (results["jsonl"]["seconds"] + results["jsonl #2"]["seconds"]) / 2  # before and after: a shared machine
    feed = results["feed"]["seconds"]
    overhead = feed / jsonl - 1
    print(
        f"feed / mean of the two jsonl runs, wall time: {feed / jsonl:.3f} (fetching adds {overhead:+.1%}; "
        f"target <= +20%: {'met' if overhead <= 0.20 else 'NOT met'})"
    )
    print("RESULTS " + json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
