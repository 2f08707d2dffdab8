"""Turn a loosely shaped record into a valid Article, or say clearly what is wrong with it."""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dateutil import parser as date_parser

from rag.errors import ArticleInvalid
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


# Zone abbreviations that news exports use; dateutil alone knows only UTC/GMT/Z, warns on the rest and
# returns a naive time (then taken as UTC: hours off). Fixed offsets also keep the result independent of
# the machine's own zone (dateutil otherwise returns tzlocal() when the name matches it).
_TZ_HOURS = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1,
    "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
    "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "JST": 9, "KST": 9, "HKT": 8,
    "SGT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
TZINFOS = {name: int(hours * 3600) for name, hours in _TZ_HOURS.items()}


def parse_date(value: Any, field_name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10_000_000_000 else value
        parsed = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(value.strip(), tzinfos=TZINFOS)
        except date_parser.UnknownTimezoneWarning as exc:
            raise ArticleInvalid(f"cannot parse {field_name} {value!r}: unknown time zone", field_name) from exc
        except (ValueError, OverflowError) as exc:
            raise ArticleInvalid(f"cannot parse {field_name} {value!r}", field=field_name) from exc
    else:
        raise ArticleInvalid(f"{field_name} must be a date string, got {type(value).__name__}", field_name)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a bare date or time is taken as UTC
    if not 1800 <= parsed.year <= 2200:
        raise ArticleInvalid(f"{field_name} {value!r} is out of range", field=field_name)
    return parsed


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
        url=canonical_url(url) if url else None,
        source=source,
        author=_text(raw.author, "author"),
        published_at=parse_date(raw.published_at, "published_at"),
        updated_at=parse_date(raw.updated_at, "updated_at"),
        category=_text(raw.category, "category"),
        tags=_tags(raw.tags),
        origin=origin,
    )
