"""HTML pages through trafilatura: main text only (navigation, scripts and styles dropped), with metadata.

Metadata comes first from the page's JSON-LD `NewsArticle` (headline, datePublished, dateModified,
author, publisher.name), then its meta tags (`article:published_time`, canonical link), because
trafilatura keeps only the day of the date; its own guesses fill what the page does not say, and a
`fallback` (what a feed or sitemap said about the page) fills what is still missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import lxml.html
import trafilatura

from ingest.loaders.base import LoadedItem, LoadOptions, checked, decode_text
from ingest.validate import RawArticle
from rag.errors import ArticleInvalid

_META_DATE = (
    "article:published_time",
    "og:published_time",
    "datePublished",
    "publish-date",
    "pubdate",
    "date",
    "dc.date",
)
_NEWS_TYPES = frozenset(
    {"newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "blogposting", "liveblogposting"}
)
_BLOCKS = ("p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "br", "tr", "section")


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed content): scripts and styles removed, blocks become paragraphs."""
    if not fragment.strip():
        return ""
    if "<" not in fragment:
        return fragment.strip()
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for bad in root.xpath("//script|//style|//noscript|//iframe"):
        bad.drop_tree()
    for block in root.iter(*_BLOCKS):
        block.tail = "\n\n" + (block.tail or "")
    text = root.text_content()
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r"\s*\n\s*\n\s*", "\n\n", text).strip()


def _page_metadata(tree: lxml.html.HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        content = (meta.get("content") or "").strip()
        if not content:
            continue
        if key in _META_DATE and "date" not in found:
            found["date"] = content
        elif key in ("og:site_name", "application-name") and "source" not in found:
            found["source"] = content
        elif key in ("author", "article:author") and "author" not in found:
            found["author"] = content
        elif key in ("og:title", "twitter:title") and "title" not in found:
            found["title"] = content
        elif key in ("article:modified_time", "dateModified") and "updated" not in found:
            found["updated"] = content
    for link in tree.iter("link"):
        if (link.get("rel") or "").lower() == "canonical" and link.get("href"):
            found["url"] = link.get("href", "").strip()
    for time_el in tree.iter("time"):
        if time_el.get("datetime") and "date" not in found:
            found["date"] = time_el.get("datetime", "").strip()
    return found


def _ld_objects(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object in a document: top level, lists and `@graph` arrays."""
    if depth > 4:
        return
    if isinstance(value, list):
        for item in value:
            yield from _ld_objects(item, depth + 1)
    elif isinstance(value, dict):
        yield value
        yield from _ld_objects(value.get("@graph"), depth + 1)


def _ld_names(value: Any) -> str | None:
    """'A', {'name': 'A'} or a list of either, as 'A, B'."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _ld_names(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_ld_names(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def _json_ld(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """The first NewsArticle-like JSON-LD object's metadata; broken JSON-LD is ignored, as browsers do."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            document = json.loads(script.text)
        except ValueError:
            continue
        for obj in _ld_objects(document):
            kinds = obj.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if not any(isinstance(k, str) and k.lower() in _NEWS_TYPES for k in kinds):
                continue
            found: dict[str, str] = {}
            page = obj.get("mainEntityOfPage")
            fields = {
                "title": obj.get("headline") or obj.get("name"),
                "date": obj.get("datePublished"),
                "updated": obj.get("dateModified"),
                "author": _ld_names(obj.get("author")),
                "source": _ld_names(obj.get("publisher")),
                "url": obj.get("url") or (page.get("@id") if isinstance(page, dict) else page),
                "category": _ld_names(obj.get("articleSection")),
                "body": obj.get("articleBody"),
            }
            for key, value in fields.items():
                if isinstance(value, str) and value.strip():
                    found[key] = value.strip()
            return found
    return {}


def page_article(page: str, base_url: str | None = None, fallback: RawArticle | None = None) -> RawArticle:
    """A page's article fields: JSON-LD, then meta tags, then `fallback` (what a feed or sitemap said,
    explicit where trafilatura's title and date are guesses), then trafilatura."""
    try:
        tree = lxml.html.document_fromstring(page)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ArticleInvalid(f"cannot parse HTML: {exc}") from exc
    ld = _json_ld(tree)
    meta = _page_metadata(tree)
    doc: Any = trafilatura.bare_extraction(page, with_metadata=True, include_comments=False, include_tables=False)
    text = (doc.text if doc is not None else None) or ""
    fb = fallback or RawArticle()
    title = ld.get("title") or meta.get("title") or fb.title or (doc.title if doc is not None else None)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    h1 = next((h.text_content() for h in tree.iter("h1")), None)
    titles = {" ".join(t.split()).casefold() for t in (title, meta.get("title"), h1) if t}
    if lines and lines[0].casefold() in titles:
        lines = lines[1:]  # the <h1> repeats a title
    body = "\n\n".join(lines) or ld.get("body")
    url = ld.get("url") or meta.get("url") or (doc.url if doc is not None else None)
    if url and base_url:
        url = urljoin(base_url, url)  # a relative canonical link
    return RawArticle(
        title=title,
        body=body,
        url=url or base_url or fb.url,
        source=ld.get("source") or meta.get("source") or fb.source or (doc.sitename if doc is not None else None),
        author=ld.get("author") or meta.get("author") or fb.author or (doc.author if doc is not None else None),
        published_at=ld.get("date") or meta.get("date") or fb.published_at or (doc.date if doc is not None else None),
        updated_at=ld.get("updated") or meta.get("updated") or fb.updated_at,
        category=ld.get("category") or fb.category or (doc.categories[0] if doc and doc.categories else None),
        tags=fb.tags,
    )


def load_html(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    try:
        raw = page_article(decode_text(data))
    except ArticleInvalid as exc:
        return [LoadedItem(path, None, error=exc.message)]
    return [checked(path, None, raw, options)]
