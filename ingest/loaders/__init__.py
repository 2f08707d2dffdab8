"""`load(path)`: pick a loader by extension, walk folders, read JSON Lines from stdin for '-'."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ingest.loaders.base import LoadedItem, LoadOptions
from ingest.loaders.jsonl import load_jsonl

Loader = Callable[[str, bytes, LoadOptions], list[LoadedItem]]
# Suffix -> (module in this package, loader). Imported on first use: the HTML and feed parsers (trafilatura,
# lxml, feedparser) take a good part of a second to import, and serving or asking never needs them.
LOADERS: dict[str, tuple[str, str]] = {
    ".jsonl": ("jsonl", "load_jsonl"),
    ".ndjson": ("jsonl", "load_jsonl"),
    ".json": ("jsonl", "load_json"),
    ".md": ("text", "load_text"),
    ".markdown": ("text", "load_text"),
    ".txt": ("text", "load_text"),
    ".html": ("html", "load_html"),
    ".htm": ("html", "load_html"),
    ".xml": ("feeds", "load_feed"),
    ".rss": ("feeds", "load_feed"),
    ".atom": ("feeds", "load_feed"),
}
# Formats that hold many articles: their files may be far larger than one article.
_MANY_ARTICLES = frozenset({"load_jsonl", "load_json", "load_feed"})
# Project files that live beside articles in a folder and are not articles.
_NOT_ARTICLES = ("readme", "license", "licence", "changelog", "contributing")

__all__ = ["LOADERS", "LoadOptions", "LoadedItem", "load", "load_many"]


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith(".") or path.stem.lower() in _NOT_ARTICLES:
                continue
            if path.suffix.lower() in LOADERS:
                yield path


def _loader(name: tuple[str, str]) -> Loader:
    module, function = name
    loader: Loader = getattr(importlib.import_module(f"ingest.loaders.{module}"), function)
    return loader


def _load_file(path: Path, options: LoadOptions) -> list[LoadedItem]:
    name = LOADERS.get(path.suffix.lower())
    shown = str(path)
    if name is None:
        supported = ", ".join(sorted(LOADERS))
        return [LoadedItem(shown, None, error=f"unsupported file type {path.suffix!r} (supported: {supported})")]
    try:
        size = path.stat().st_size
        # One-article formats larger than several times the article limit are refused unread.
        if name[1] not in _MANY_ARTICLES and size > options.max_chars * 8:
            return [LoadedItem(shown, None, error=f"file of {size:,} bytes is over the article size limit")]
        data = path.read_bytes()
    except OSError as exc:
        return [LoadedItem(shown, None, error=f"cannot read file: {exc.strerror or exc}")]
    return _loader(name)(shown, data, options)


def load(path: str | Path, options: LoadOptions | None = None) -> Iterator[LoadedItem]:
    """Every item found under `path`, valid or not, in a stable order."""
    options = options or LoadOptions()
    if str(path) == "-":
        yield from load_jsonl("<stdin>", sys.stdin.buffer.read(), options)
        return
    target = Path(path)
    if target.is_dir():
        for file in _walk(target):
            yield from _load_file(file, options)
    elif target.exists():
        yield from _load_file(target, options)
    else:
        yield LoadedItem(str(path), None, error="no such file or folder")


def load_many(paths: Iterable[str | Path], options: LoadOptions | None = None) -> Iterator[LoadedItem]:
    for path in paths:
        yield from load(path, options)
