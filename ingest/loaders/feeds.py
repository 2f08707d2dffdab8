"""RSS and Atom feeds through feedparser: full content where present, else the summary.

The entry's own publication date (pubDate / published) is the article date, never the time of ingest.
`parse_feed` is shared with live ingest (ingest/web.py), which follows summary-only entries to the page.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.loaders.base import LoadedItem, LoadOptions, checked
from ingest.loaders.html import html_to_text
from ingest.validate import RawArticle
from rag.errors import ArticleInvalid


def _entry_date(entry: Any, parsed_key: str, raw_key: str) -> Any:
    parsed = entry.get(parsed_key)
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return entry.get(raw_key)  # unparsed by feedparser: validation names the bad value


def _full_content(entry: Any) -> str:
    """The entry's full content (content:encoded, Atom content), empty when it carries only a summary."""
    contents = entry.get("content") or []
    return max((c.get("value", "") for c in contents), key=len, default="")


@dataclass(frozen=True)
class FeedEntry:
    """One entry as the feed gives it; `full` says whether it carries the article's text or a summary."""

    item: str
    raw: RawArticle
    link: str | None
    full: bool


def parse_feed(data: bytes) -> tuple[str | None, list[FeedEntry]]:
    """The feed's title and entries; ArticleInvalid when it is no feed or has no entries."""
    parsed = feedparser.parse(data)
    if not parsed.entries:
        reason = f": {parsed.get('bozo_exception')}" if parsed.get("bozo") else ""
        raise ArticleInvalid(f"not an RSS/Atom feed, or a feed with no entries{reason}")
    outlet = parsed.feed.get("title")
    entries: list[FeedEntry] = []
    for index, entry in enumerate(parsed.entries):
        tags = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
        content = _full_content(entry)
        full = bool(content.strip())
        raw = RawArticle(
            id=None,
            title=html_to_text(entry.get("title", "")),
            body=html_to_text(content if full else entry.get("summary", "")),
            url=entry.get("link"),
            source=(entry.get("source") or {}).get("title") or outlet,
            author=entry.get("author"),
            published_at=_entry_date(entry, "published_parsed", "published")
            or _entry_date(entry, "updated_parsed", "updated"),
            updated_at=_entry_date(entry, "updated_parsed", "updated"),
            category=tags[0] if tags else None,
            tags=tags,
        )
        entries.append(FeedEntry(f"entry {index + 1}", raw, entry.get("link"), full))
    return outlet, entries


def load_feed(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    try:
        _, entries = parse_feed(data)
    except ArticleInvalid as exc:
        return [LoadedItem(path, None, error=exc.message)]
    return [checked(path, entry.item, entry.raw, options) for entry in entries]
