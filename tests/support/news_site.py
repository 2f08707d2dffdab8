"""A small news website on a free loopback port, for the live-ingest tests: real HTTP, nothing mocked.

It serves an RSS feed whose entries carry summaries and link to three article pages, an Atom feed with
full content, a news sitemap and a sitemap index, a page with JSON-LD, a redirect, a 404, a page that
hangs, pages that take a moment (to count overlapping requests), a 5 MB binary and a 5 MB page, a flaky
page (503 with Retry-After once), a robots.txt that disallows /private/, and a page behind it. Every
feed and page answers conditional requests (ETag) with 304. `advance()` adds an entry to the feed and
changes one page, as happens between two polls of a real outlet. Every request is logged with its headers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OUTLET = "Loopback Gazette"
BIG = 5 * 1024 * 1024
LAST_MODIFIED = format_datetime(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), usegmt=True)


def story_text(n: int, version: int = 1) -> str:
    """Several paragraphs (enough for trafilatura to call it the main text), with a unique marker."""
    topic = ["harbour ferries", "the river bridge", "the night trains", "the tram depot", "city bikes"][n % 5]
    lines = [
        f"FULLTEXT-{n}-v{version}: the full report on {topic} as only the article page carries it.",
        f"Council members met on Monday to discuss {topic}, and officials presented a detailed plan with "
        "costs, dates and a list of the neighbourhoods that would be affected first.",
        f"Residents who spoke at the meeting said that {topic} had been neglected for years, and several "
        "asked why the repairs promised in the last budget had not started on time.",
        "The transport director answered that contracts had been signed in the spring and that the work "
        "would begin before the end of the year, weather permitting, with a second phase next summer.",
    ]
    if version > 1:
        lines.append(f"UPDATE v{version}: the council has now approved the plan for {topic} by a wide margin.")
    return "\n".join(f"<p>{line}</p>" for line in lines)


def page_html(title: str, body: str, extra_head: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} | {OUTLET}</title>{extra_head}"
        f"</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>{title}</h1>"
        f"{body}</article><footer>Copyright {OUTLET}</footer></body></html>"
    )


@dataclass(frozen=True)
class Seen:
    """One request as the site saw it."""

    method: str
    path: str
    headers: dict[str, str]
    status: int

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


class NewsSite:
    def __init__(self) -> None:
        self.version = 1
        self.log: list[Seen] = []
        self.release = threading.Event()  # set on shutdown: the hanging page lets go
        self.flaky_calls = 0
        self.in_flight = 0  # requests to /pause-N being served right now, and the most at once
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="news-site", daemon=True)
        self.hang_seconds = 30.0

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> NewsSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def advance(self) -> None:
        """Between two polls: the feed gains a fourth entry and story 2 is updated."""
        with self._lock:
            self.version = 2

    def requests_for(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.log if s.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    # ----------------------------------------------------------------------------- content
    def stories(self) -> list[int]:
        return [1, 2, 3, 4] if self.version > 1 else [1, 2, 3]

    def feed(self, links: list[str] | None = None) -> str:
        items = []
        for n, link in enumerate(links or [f"/story-{n}" for n in self.stories()], start=1):
            items.append(
                f"<item><title>Story {n} about the city</title><link>{self.url}{link}</link>"
                f"<guid>{self.url}{link}</guid><pubDate>Mon, 0{n} Dec 2025 09:00:00 GMT</pubDate>"
                f"<description>Summary {n}: a short teaser only.</description><author>desk@example.org "
                f"(City Desk)</author></item>"
            )
        return (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>{OUTLET}</title><link>{self.url}/</link><description>News</description>"
            f"{''.join(items)}</channel></rss>"
        )

    def atom(self) -> str:
        entries = []
        for n in (11, 12):
            entries.append(
                f"<entry><title>Atom story {n}</title><link href='{self.url}/atom-story-{n}'/>"
                f"<id>{self.url}/atom-story-{n}</id><updated>2025-11-{n}T10:00:00Z</updated>"
                f"<published>2025-11-{n}T09:00:00Z</published><author><name>Atom Writer</name></author>"
                f"<content type='html'><![CDATA[{story_text(n)}]]></content></entry>"
            )
        return (
            "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>Atom Times</title><id>{self.url}/atom.xml</id><updated>2025-11-12T10:00:00Z</updated>"
            f"{''.join(entries)}</feed>"
        )

    def sitemap(self) -> str:
        urls = []
        for n, day in ((21, "2025-10-01"), (22, "2025-10-02")):
            urls.append(
                f"<url><loc>{self.url}/news/{n}</loc><lastmod>{day}T12:00:00Z</lastmod><news:news>"
                f"<news:publication><news:name>Sitemap Post</news:name><news:language>en</news:language>"
                f"</news:publication><news:publication_date>{day}T08:30:00Z</news:publication_date>"
                f"<news:title>Sitemap story {n}</news:title></news:news></url>"
            )
        return (
            "<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>" + "".join(urls) + "</urlset>"
        )

    def sitemap_index(self) -> str:
        return (
            "<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<sitemap><loc>{self.url}/news-sitemap.xml</loc></sitemap></sitemapindex>"
        )

    def ld_page(self) -> str:
        ld = {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "name": "Not the outlet"},
                {
                    "@type": "NewsArticle",
                    "headline": "Harbour plan approved after long night",
                    "datePublished": "2025-11-20T07:15:00+01:00",
                    "dateModified": "2025-11-21T18:00:00+01:00",
                    "author": [{"@type": "Person", "name": "Ada Reporter"}, {"@type": "Person", "name": "Bo Editor"}],
                    "publisher": {"@type": "Organization", "name": "JSON-LD Daily"},
                },
            ],
        }
        head = (
            f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
            "<meta property='og:site_name' content='Meta Site Name'>"
            "<meta property='article:published_time' content='2020-01-01T00:00:00Z'>"
        )
        return page_html("A page title that is not the headline", story_text(30), head)

    def route(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a path (the conditional check comes after)."""
        html = {"Content-Type": "text/html; charset=utf-8"}
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"
        if path == "/feed.xml":
            return 200, {"Content-Type": "application/rss+xml"}, self.feed().encode()
        if path == "/mixed-feed.xml":  # one good page, one missing, one behind robots.txt
            body = self.feed(["/story-1", "/missing", "/private/story"]).encode()
            return 200, {"Content-Type": "application/rss+xml"}, body
        if path == "/atom.xml":
            return 200, {"Content-Type": "application/atom+xml"}, self.atom().encode()
        if path == "/news-sitemap.xml":
            return 200, {"Content-Type": "application/xml"}, self.sitemap().encode()
        if path == "/sitemap-index.xml":
            return 200, {"Content-Type": "application/xml"}, self.sitemap_index().encode()
        if path == "/ld-story":
            return 200, html, self.ld_page().encode()
        if path.startswith("/story-"):
            n = int(path.removeprefix("/story-"))
            if n not in self.stories():
                return 404, {"Content-Type": "text/plain"}, b"not found"
            version = self.version if n == 2 else 1
            return 200, html, page_html(f"Story {n} about the city", story_text(n, version)).encode()
        if path.startswith("/news/"):
            n = int(path.removeprefix("/news/"))
            return 200, html, page_html("", story_text(n)).encode()
        if path == "/moved":
            return 301, {"Location": "/landed"}, b""
        if path == "/landed":
            return 200, html, page_html("The story that moved", story_text(40)).encode()
        if path == "/private/story":
            return 200, html, page_html("Behind robots", story_text(41)).encode()
        if path == "/flaky":
            with self._lock:
                self.flaky_calls += 1
                first = self.flaky_calls == 1
            if first:
                return 503, {"Retry-After": "1", "Content-Type": "text/plain"}, b"busy"
            return 200, html, page_html("The flaky story", story_text(42)).encode()
        if path == "/big.bin":
            return 200, {"Content-Type": "application/octet-stream"}, b"\x00" * BIG
        if path == "/big.html":
            return 200, html, b"<html><body><p>" + b"x" * BIG + b"</p></body></html>"
        if path.startswith("/pause-"):
            return 200, html, page_html(f"Paused page {path}", story_text(50)).encode()
        if path == "/image.png":
            return 200, {"Content-Type": "image/png"}, b"\x89PNG\r\n"
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                if path == "/slow":
                    site.release.wait(site.hang_seconds)
                    self._log(path, headers, 0)
                    return
                if path.startswith("/pause-"):
                    with site._lock:
                        site.in_flight += 1
                        site.max_in_flight = max(site.max_in_flight, site.in_flight)
                    site.release.wait(0.2)  # long enough for parallel requests to overlap
                    with site._lock:
                        site.in_flight -= 1
                status, out_headers, body = site.route(path)
                if status == 200 and path != "/robots.txt" and not path.startswith("/big"):
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    out_headers = {**out_headers, "ETag": etag, "Last-Modified": LAST_MODIFIED}
                    if headers.get("if-none-match") == etag:
                        status, body = 304, b""
                self._log(path, headers, status)
                self.send_response(status)
                for key, value in out_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)) if status != 304 else "0")
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _log(self, path: str, headers: dict[str, str], status: int) -> None:
                with site._lock:
                    site.log.append(Seen("GET", path, headers, status))

        return Handler


@contextmanager
def news_site() -> Iterator[NewsSite]:
    site = NewsSite().start()
    try:
        yield site
    finally:
        site.stop()
