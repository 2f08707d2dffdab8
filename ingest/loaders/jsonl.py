"""JSON Lines (one object a line) and JSON (an object, or an array of objects)."""

from __future__ import annotations

import json

from ingest.loaders.base import LoadedItem, LoadOptions, checked
from ingest.validate import RawArticle


def load_jsonl(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    items: list[LoadedItem] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        item = f"line {number}"
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            items.append(LoadedItem(path, item, error=f"invalid UTF-8 at byte {exc.start}"))
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            items.append(LoadedItem(path, item, error=f"malformed JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(record, dict):
            items.append(LoadedItem(path, item, error=f"expected a JSON object, got {type(record).__name__}"))
            continue
        items.append(checked(path, item, RawArticle.from_mapping(record), options))
    return items


def load_json(path: str, data: bytes, options: LoadOptions) -> list[LoadedItem]:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return [LoadedItem(path, None, error=f"invalid UTF-8 at byte {exc.start}")]
    except json.JSONDecodeError as exc:
        # Perhaps JSON Lines saved as .json: fall back when every line is an object.
        if data.strip().startswith(b"{") and b"\n" in data.strip():
            return load_jsonl(path, data, options)
        return [LoadedItem(path, None, error=f"malformed JSON: {exc.msg} at line {exc.lineno}")]
    records: list[object]
    if isinstance(document, dict):
        nested = document.get("articles")
        records = nested if isinstance(nested, list) else [document]
    elif isinstance(document, list):
        records = document
    else:
        return [LoadedItem(path, None, error="expected a JSON object or an array of objects")]
    items: list[LoadedItem] = []
    for index, record in enumerate(records):
        item = f"item {index}"
        if not isinstance(record, dict):
            items.append(LoadedItem(path, item, error=f"expected a JSON object, got {type(record).__name__}"))
            continue
        items.append(checked(path, item, RawArticle.from_mapping(record), options))
    return items
