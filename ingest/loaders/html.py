"""HTML pages through trafilatura: main text only (navigation, scripts and styles dropped), with metadata.

Page metadata (`article:published_time`, canonical link) is read first because trafilatura keeps only
the day of the date; its own guesses fill what the page does not say.
"""

from __future__ import annotations

import re
from typing import Any

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


def load_html(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    try:
        page = decode_text(data)
    except ArticleInvalid as exc:
        return [LoadedItem(path, None, error=exc.message)]
    try:
        tree = lxml.html.document_fromstring(page)
    except (lxml.etree.ParserError, ValueError) as exc:
        return [LoadedItem(path, None, error=f"cannot parse HTML: {exc}")]
    meta = _page_metadata(tree)
    doc: Any = trafilatura.bare_extraction(page, with_metadata=True, include_comments=False, include_tables=False)
    text = (doc.text if doc is not None else None) or ""
    title = meta.get("title") or (doc.title if doc is not None else None)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if lines and title and lines[0].strip().casefold() == title.strip().casefold():
        lines = lines[1:]  # the <h1> repeats the title
    raw = RawArticle(
        title=title,
        body="\n\n".join(lines),
        url=meta.get("url") or (doc.url if doc is not None else None),
        source=meta.get("source") or (doc.sitename if doc is not None else None),
        author=meta.get("author") or (doc.author if doc is not None else None),
        published_at=meta.get("date") or (doc.date if doc is not None else None),
        updated_at=meta.get("updated"),
        category=(doc.categories[0] if doc is not None and doc.categories else None),
    )
    return [checked(path, None, raw, options)]
