"""Turn a loosely shaped record into a valid Article, or say clearly what is wrong with it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rag.dates import parse_bound
from rag.errors import ArticleInvalid, InvalidInput
from rag.models import Article

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "guid", "article_id"),
    "title": ("title", "headline", "name"),
    "body": ("body", "text", "content", "article", "full_text"),
    "url": ("url", "link", "canonical_url", "permalink"),
    "source": ("source", "outlet", "publisher", "site_name", "sitename", "publication"),
    "author": ("author", "authors", "byline", "creator"),
    "published_at": ("published_at", "date", "pubDate", "pubdate", "published", "publishedAt", "datetime"),
    "updated_at": ("updated_at", "updated", "modified", "dateModified"),
    "category": ("category", "section"),
    "tags": ("tags", "keywords"),
}

_TRACKING_PARAM = re.compile(r"^(utm_|fbclid$|gclid$|mc_|ref$|ref_src$|cmpid$|ncid$|ocid$)")
_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class RawArticle:
    """Fields as a loader found them, before validation."""

    title: Any = None
    body: Any = None
    url: Any = None
    source: Any = None
    author: Any = None
    published_at: Any = None
    updated_at: Any = None
    category: Any = None
    tags: Any = None
    id: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, record: Mapping[str, Any]) -> RawArticle:
        values: dict[str, Any] = {}
        for name, aliases in FIELD_ALIASES.items():
            for alias in aliases:
                if record.get(alias) not in (None, "", []):
                    values[name] = record[alias]
                    break
        return cls(**values)


def canonical_url(url: str) -> str:
    """Same article, same URL: lower-case host, no fragment, no tracking parameters, no trailing slash."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAM.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def article_id(url: str | None, source: str | None, title: str, body: str) -> str:
    if url:
        key = "url:" + canonical_url(url)
    else:
        key = "text:" + "\x1f".join([source or "", title, " ".join(body.split())])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def parse_date(value: Any, field_name: str) -> datetime | None:
    """An article date through the one date parser (rag/dates.py), failing as ArticleInvalid."""
    try:
        return parse_bound(value, field=field_name)
    except InvalidInput as exc:
        raise ArticleInvalid(exc.message, field=field_name) from exc


def _text(value: Any, field_name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):  # {"name": "The Verge", "id": ...} as NewsAPI sends it
        value = value.get("name") or value.get("title")
    if isinstance(value, list | tuple):
        value = ", ".join(str(_text(v, field_name)) for v in value if v)
    if not isinstance(value, str | int | float):
        raise ArticleInvalid(f"{field_name} must be text, got {type(value).__name__}", field=field_name)
    text = _CONTROL.sub("", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip() or None


def _tags(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        raise ArticleInvalid("tags must be a list or a comma-separated string", field="tags")
    return tuple(t for t in (_text(v, "tags") for v in value) if t)


def clean_body(body: str) -> str:
    """Normalise line endings and blank runs; keep paragraphs (offsets point into this text)."""
    lines = [line.rstrip() for line in body.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def validate(raw: RawArticle, max_chars: int, origin: str | None = None) -> Article:
    """A valid Article or ArticleInvalid naming the field: the caller records it and goes on."""
    title = _text(raw.title, "title")
    body = _text(raw.body, "body")
    if not body:
        raise ArticleInvalid("empty body", field="body")
    body = clean_body(body)
    if len(body) > max_chars:
        raise ArticleInvalid(f"body has {len(body):,} characters, over the limit of {max_chars:,}", "body")
    if not title:
        raise ArticleInvalid("no title", field="title")
    title = " ".join(title.split())
    url = _text(raw.url, "url")
    if url and not urlsplit(url).scheme.startswith("http"):
        raise ArticleInvalid(f"url {url!r} is not an http(s) URL", field="url")
    source = _text(raw.source, "source")
    explicit_id = _text(raw.id, "id")
    if explicit_id and not _ID.fullmatch(explicit_id):
        raise ArticleInvalid(f"id {explicit_id!r} must be 1-128 characters of A-Z a-z 0-9 . _ -", "id")
    return Article(
        id=explicit_id if explicit_id and not url else article_id(url, source, title, body),
        title=title,
        body=body,
        url=url,  # as the publisher gave it; the canonical form is only the identity (the id)
        source=source,
        author=_text(raw.author, "author"),
        published_at=parse_date(raw.published_at, "published_at"),
        updated_at=parse_date(raw.updated_at, "updated_at"),
        category=_text(raw.category, "category"),
        tags=_tags(raw.tags),
        origin=origin,
    )
