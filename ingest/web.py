"""Articles from URLs: `WebLoader(fetcher, options).load(url)` yields LoadedItems, as the file loaders do.

A URL is recognised by its content (and content type): an RSS/Atom feed, a sitemap or sitemap index
(news extension read: publication date, title, outlet) or an article page. Pages go through the HTML
loader (JSON-LD NewsArticle and meta tags first). A feed entry with only a summary is followed to its
page (unless `follow_links` is off), the entry's title and date filling what the page does not say.
What answers 304 (or a sitemap lists as unchanged since the last fetch) yields nothing: it is stored.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import lxml.etree

from ingest.fetch import Fetched, Fetcher, FetchFailed
from ingest.loaders.base import LoadedItem, LoadOptions, checked
from ingest.loaders.feeds import parse_feed
from ingest.loaders.html import page_article
from ingest.validate import RawArticle, canonical_url, parse_date
from rag.errors import ArticleInvalid, InvalidInput

Kind = Literal["page", "feed", "sitemap", "sitemap_index"]
MAX_SITEMAP_DEPTH = 2  # index -> sitemap -> pages
_ROOT_TAG = re.compile(rb"<(?![?!])([A-Za-z_][\w.:-]*)")
_FEED_ROOTS = {b"rss", b"feed", b"rdf:rdf", b"rdf"}
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.IGNORECASE)
_XML_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class WebOptions:
    max_chars: int = 500_000
    follow_links: bool = True
    not_before: datetime | None = None  # retention: entries published earlier are not fetched


@dataclass
class WebTally:
    """What loading did beyond the items it yielded (the pipeline counts those)."""

    not_modified: int = 0  # URLs that answered 304 or were listed as unchanged
    skipped_old: int = 0  # entries older than the retention window, not fetched
    root_error: str | None = None  # the URL itself failed (not one of its entries)
    kinds: dict[str, Kind] = field(default_factory=dict)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ArticleInvalid(f"broken gzip data: {exc}") from exc
    if len(out) > limit:
        raise ArticleInvalid(f"more than {limit:,} bytes once decompressed, over the limit")
    return out


def recognise(fetched: Fetched, limit: int) -> tuple[Kind, bytes]:
    """What a response is, by its first element (feeds served as text/html exist) and then its type."""
    body = fetched.body
    if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz
        body = _gunzip(body, limit)
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    while head.startswith(b"<!--"):
        head = head[head.find(b"-->") + 3 :].lstrip() if b"-->" in head else b""
    match = _ROOT_TAG.search(head)
    root = match.group(1).lower() if match else b""
    if root in _FEED_ROOTS:
        return "feed", body
    if root.endswith(b"urlset"):
        return "sitemap", body
    if root.endswith(b"sitemapindex"):
        return "sitemap_index", body
    if root == b"html" or fetched.content_type in _HTML_TYPES:
        return "page", body
    shown = fetched.content_type or "no content type"
    if root:
        raise ArticleInvalid(f"an XML document with root <{root.decode(errors='replace')}> ({shown}) is not a feed")
    raise ArticleInvalid(f"{shown}: not an HTML page, an RSS/Atom feed or a sitemap")


def decode_page(fetched: Fetched, body: bytes) -> str:
    """The page's text in its declared charset (header, then <meta charset>), else UTF-8."""
    charset = fetched.charset
    if not charset:
        found = _META_CHARSET.search(body[:4096])
        charset = found.group(1).decode("ascii", errors="ignore") if found else "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime | None
    fallback: RawArticle


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower()


def _child(element: lxml.etree._Element, *path: str) -> lxml.etree._Element | None:
    current: lxml.etree._Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((c for c in current if _local(c.tag) == name), None)
    return current


def _text_of(element: lxml.etree._Element, *path: str) -> str | None:
    found = _child(element, *path)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _date_or_none(value: str | None) -> datetime | None:
    try:
        return parse_date(value, "lastmod")
    except ArticleInvalid:
        return None


def parse_sitemap(body: bytes) -> list[SitemapEntry]:
    """`<url>` or `<sitemap>` entries with their dates; the news extension gives title and outlet."""
    try:
        root = lxml.etree.fromstring(body, parser=_XML_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        raise ArticleInvalid(f"malformed sitemap XML: {exc}") from exc
    entries: list[SitemapEntry] = []
    for node in root:
        if _local(node.tag) not in ("url", "sitemap"):
            continue
        loc = _text_of(node, "loc")
        if not loc:
            continue
        published = _text_of(node, "news", "publication_date")
        fallback = RawArticle(
            title=_text_of(node, "news", "title"),
            url=loc,
            source=_text_of(node, "news", "publication", "name"),
            published_at=published,
            tags=_text_of(node, "news", "keywords"),
        )
        lastmod = _date_or_none(_text_of(node, "lastmod")) or _date_or_none(published)
        entries.append(SitemapEntry(loc, lastmod, fallback))
    return entries


def _reason(message: str, url: str) -> str:
    """A fetch error without the URL it starts with (the item already names it)."""
    return message[len(url) + 2 :] if message.startswith(url + ": ") else message


@dataclass(frozen=True)
class _PageTask:
    path: str  # where the page was found (the feed or sitemap), for messages
    item: str | None
    url: str
    fallback: RawArticle | None


class WebLoader:
    """Loads URLs through one Fetcher; `tally` says what was skipped and whether the URL itself failed."""

    def __init__(
        self,
        fetcher: Fetcher,
        options: WebOptions | None = None,
        on_found: Callable[[int], None] | None = None,
        workers: int = 4,
    ) -> None:
        self.fetcher = fetcher
        self.options = options or WebOptions()
        self.load_options = LoadOptions(max_chars=self.options.max_chars)
        self.on_found = on_found
        self.workers = workers
        self.tally = WebTally()
        self._lock = threading.Lock()

    def load_many(self, urls: Iterable[str]) -> Iterator[LoadedItem]:
        for url in urls:
            yield from self.load(url)

    def _get(self, url: str) -> tuple[Fetched, Kind, bytes] | None:
        """The URL fetched and recognised, or None when it has not changed since the last fetch (HTTP 304,
        counted); raises FetchFailed or InvalidInput."""
        fetched = self.fetcher.fetch(url)
        if fetched.not_modified:
            self._count_not_modified()
            return None
        kind, body = recognise(fetched, self.fetcher.policy.max_bytes)
        return fetched, kind, body

    def load(self, url: str) -> Iterator[LoadedItem]:
        try:
            got = self._get(url)
        except (FetchFailed, InvalidInput) as exc:
            self.tally.root_error = _reason(exc.message, url)
            yield LoadedItem(url, None, error=self.tally.root_error)
            return
        if got is None:
            return
        fetched, kind, body = got
        self.tally.kinds[url] = kind
        if kind == "page":
            self._found(1)
            yield self._page_item(_PageTask(url, None, url, None), fetched, body)
        elif kind == "feed":
            yield from self._feed(url, body)
        else:
            yield from self._sitemap(url, kind, body, depth=0)

    # ------------------------------------------------------------------------------ feeds
    def _feed(self, url: str, body: bytes) -> Iterator[LoadedItem]:
        try:
            _, entries = parse_feed(body)
        except ArticleInvalid as exc:
            self.tally.root_error = exc.message
            yield LoadedItem(url, None, error=exc.message)
            return
        entries = [e for e in entries if not self._too_old(e.raw)]
        self._found(len(entries))
        tasks: list[_PageTask] = []
        for entry in entries:
            if entry.full or not self.options.follow_links or not entry.link:
                yield checked(url, entry.item, entry.raw, self.load_options)
            else:
                tasks.append(_PageTask(url, entry.item, entry.link, entry.raw))
        yield from self._pages(tasks)

    # --------------------------------------------------------------------------- sitemaps
    def _sitemap(self, url: str, kind: Kind, body: bytes, depth: int) -> Iterator[LoadedItem]:
        try:
            entries = parse_sitemap(body)
        except ArticleInvalid as exc:
            if depth == 0:
                self.tally.root_error = exc.message
            yield LoadedItem(url, None, error=exc.message)
            return
        fresh = [e for e in entries if not self._unchanged_since_fetch(e) and not self._too_old(e.fallback)]
        if kind == "sitemap_index":
            for entry in fresh:
                if depth + 1 >= MAX_SITEMAP_DEPTH:
                    yield LoadedItem(url, entry.loc, error="sitemap indexes nested too deep")
                    continue
                yield from self._child_sitemap(url, entry.loc, depth + 1)
            return
        self._found(len(fresh))
        yield from self._pages([_PageTask(url, None, e.loc, e.fallback) for e in fresh])

    def _child_sitemap(self, parent: str, url: str, depth: int) -> Iterator[LoadedItem]:
        try:
            got = self._get(url)
        except (FetchFailed, InvalidInput) as exc:
            yield LoadedItem(url, None, error=_reason(exc.message, url))
            return
        if got is None:
            return
        _, kind, body = got
        if kind not in ("sitemap", "sitemap_index"):
            yield LoadedItem(url, None, error=f"listed in sitemap index {parent} but it is a {kind}")
            return
        yield from self._sitemap(url, kind, body, depth)

    def _unchanged_since_fetch(self, entry: SitemapEntry) -> bool:
        """A sitemap entry last modified before our last fetch of it: no request at all."""
        if entry.lastmod is None:
            return False
        cached = self.fetcher.cached(entry.loc)
        if cached is None or entry.lastmod > cached.fetched_at:
            return False
        self._count_not_modified()
        return True

    # ------------------------------------------------------------------------------ pages
    def _pages(self, tasks: list[_PageTask]) -> Iterator[LoadedItem]:
        """Fetch pages a few at a time (the Fetcher keeps each host's limit), yielded in order."""
        if not tasks:
            return
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="newsrag-fetch")
        window: deque[tuple[_PageTask, Future[LoadedItem | None]]] = deque()
        todo = iter(tasks)
        try:
            for task in todo:
                window.append((task, executor.submit(self._fetch_page, task)))
                if len(window) >= self.workers * 4:
                    break
            while window:
                _, future = window.popleft()
                result = future.result()
                nxt = next(todo, None)
                if nxt is not None:
                    window.append((nxt, executor.submit(self._fetch_page, nxt)))
                if result is not None:
                    yield result
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _fetch_page(self, task: _PageTask) -> LoadedItem | None:
        try:
            got = self._get(task.url)
        except (FetchFailed, InvalidInput) as exc:
            return LoadedItem(task.path, self._where(task), error=_reason(exc.message, task.url))
        if got is None:
            return None
        fetched, kind, body = got
        if kind != "page":
            return LoadedItem(task.path, self._where(task), error=f"the link leads to a {kind}, not an article page")
        return self._page_item(task, fetched, body)

    def _page_item(self, task: _PageTask, fetched: Fetched, body: bytes) -> LoadedItem:
        where = self._where(task) if task.path != task.url else None
        try:
            raw = page_article(decode_page(fetched, body), fetched.final_url, task.fallback)
        except ArticleInvalid as exc:
            return LoadedItem(task.path, where, error=exc.message)
        loaded = checked(task.path, where, raw, self.load_options)
        if loaded.article is None:
            return loaded
        article = loaded.article
        others = {canonical_url(u) for u in (task.url, fetched.final_url, *fetched.redirects)}
        others.discard(article.url or "")
        if others:
            article = article.model_copy(update={"alt_urls": tuple(sorted(set(article.alt_urls) | others))})
        return LoadedItem(loaded.path, loaded.item, article=article)

    # ---------------------------------------------------------------------------- helpers
    @staticmethod
    def _where(task: _PageTask) -> str:
        return f"{task.item} ({task.url})" if task.item else task.url

    def _too_old(self, raw: RawArticle) -> bool:
        if self.options.not_before is None:
            return False
        try:
            published = parse_date(raw.published_at, "published_at")
        except ArticleInvalid:
            return False
        if published is None or published >= self.options.not_before:
            return False
        with self._lock:
            self.tally.skipped_old += 1
        return True

    def _found(self, n: int) -> None:
        if self.on_found is not None and n:
            self.on_found(n)

    def _count_not_modified(self) -> None:
        with self._lock:
            self.tally.not_modified += 1
