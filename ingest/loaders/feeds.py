"""RSS and Atom feeds through feedparser: full content where present, else the summary.

The entry's own publication date (pubDate / published) is the article date, never the time of ingest.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.loaders.base import LoadedItem, LoadOptions, checked
from ingest.loaders.html import html_to_text
from ingest.validate import RawArticle


def _entry_date(entry: Any, parsed_key: str, raw_key: str) -> Any:
    parsed = entry.get(parsed_key)
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return entry.get(raw_key)  # unparsed by feedparser: validation names the bad value


def _entry_body(entry: Any) -> str:
    contents = entry.get("content") or []
    best = max((c.get("value", "") for c in contents), key=len, default="")
    if not best.strip():
        best = entry.get("summary", "")
    return html_to_text(best)


def load_feed(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    parsed = feedparser.parse(data)
    if not parsed.entries:
        reason = f": {parsed.get('bozo_exception')}" if parsed.get("bozo") else ""
        return [LoadedItem(path, None, error=f"not an RSS/Atom feed, or a feed with no entries{reason}")]
    outlet = parsed.feed.get("title")
    items: list[LoadedItem] = []
    for index, entry in enumerate(parsed.entries):
        item = f"entry {index + 1}"
        tags = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
        raw = RawArticle(
            id=None,
            title=html_to_text(entry.get("title", "")),
            body=_entry_body(entry),
            url=entry.get("link"),
            source=(entry.get("source") or {}).get("title") or outlet,
            author=entry.get("author"),
            published_at=_entry_date(entry, "published_parsed", "published")
            or _entry_date(entry, "updated_parsed", "updated"),
            updated_at=_entry_date(entry, "updated_parsed", "updated"),
            category=tags[0] if tags else None,
            tags=tags,
        )
        items.append(checked(path, item, raw, options))
    return items
