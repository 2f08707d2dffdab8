"""Markdown and plain text, with optional YAML front matter (else the first line is the title)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ingest.loaders.base import LoadedItem, LoadOptions, checked, decode_text
from ingest.validate import RawArticle
from rag.errors import ArticleInvalid

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_LEADING_DATE = re.compile(r"^\s*(?:date:?\s*)?(\d{4}-\d{2}-\d{2}(?:[T ][\d:.+\-Z]+)?)\s*", re.IGNORECASE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_MD_HEADING = re.compile(r"^#{1,6}\s+", re.MULTILINE)


def markdown_to_text(markdown: str) -> str:
    """Enough Markdown stripping that quotes read as prose; offsets then point into this text."""
    text = _MD_LINK.sub(r"\1", markdown)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_HEADING.sub("", text)
    return re.sub(r"^\s*>\s?", "", text, flags=re.MULTILINE)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ArticleInvalid(f"front matter is not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise ArticleInvalid("front matter must be a YAML mapping")
    return meta, text[match.end() :]


def _title_from_text(body: str, is_markdown: bool) -> tuple[str | None, str, str | None]:
    """No front matter: a leading date line gives the date, the first line gives the title."""
    date = None
    date_match = _LEADING_DATE.match(body)
    if date_match:
        date = date_match.group(1)
        body = body[date_match.end() :]
    lines = body.lstrip("\n").split("\n", 1)
    first = lines[0].strip()
    rest = lines[1] if len(lines) > 1 else ""
    if is_markdown and first.startswith("#"):
        return first.lstrip("#").strip(), rest, date
    if date is None and first and len(first) <= 200 and rest.strip():
        return first, rest, date
    return None, body, date  # the title stays missing and validation says so


def load_text(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    is_markdown = path.lower().endswith((".md", ".markdown"))
    try:
        text = decode_text(data).replace("\r\n", "\n")
        meta, body = _split_front_matter(text)
    except ArticleInvalid as exc:
        return [LoadedItem(path, None, error=exc.message)]
    record = RawArticle.from_mapping(meta)
    title, date = record.title, record.published_at
    if not meta or record.title is None:
        found_title, body, found_date = _title_from_text(body, is_markdown)
        title = title or found_title
        date = date or found_date
        if title is None:  # a text with a date line and no title line: its first sentence names it
            first_sentence = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0]
            title = first_sentence[:200] if first_sentence else None
    if is_markdown:
        body = markdown_to_text(body)
    fields = {**record.__dict__, "title": title, "body": body, "published_at": date}
    return [checked(path, None, RawArticle(**fields), options)]
