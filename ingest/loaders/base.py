"""What every loader yields: an article, or a clear error for one item, never an exception that sinks
the rest of the file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.validate import RawArticle, validate
from rag.errors import ArticleInvalid
from rag.models import Article


@dataclass(frozen=True)
class LoadedItem:
    path: str
    item: str | None
    article: Article | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.item}" if self.item else self.path


@dataclass(frozen=True)
class LoadOptions:
    max_chars: int = 500_000


def checked(path: str, item: str | None, raw: RawArticle, options: LoadOptions) -> LoadedItem:
    origin = f"{path}:{item}" if item else path
    try:
        return LoadedItem(path, item, article=validate(raw, options.max_chars, origin))
    except ArticleInvalid as exc:
        return LoadedItem(path, item, error=exc.message)


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM allowed) or ArticleInvalid: binary files and broken encodings are named as such."""
    if b"\x00" in data[:8192]:
        raise ArticleInvalid("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleInvalid(f"invalid UTF-8 at byte {exc.start}") from exc


Loader = Callable[[str, bytes, LoadOptions], "list[LoadedItem]"]
