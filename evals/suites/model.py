"""The suite format: a header naming the corpus, then one question per item. Frozen pydantic models.

A suite file is JSON Lines (YAML optional):

    {"suite": {"name": "samples", "corpus": ["samples"], "description": "..."}}
    {"id": "fact-01", "question": "...", "answer": "$13 billion", "answer_type": "entity",
     "evidence": {"urls": ["https://..."]}}

The header may instead sit in a sidecar next to the file (`<stem>.suite.json` or `<stem>.suite.yaml`).
In YAML the file is one mapping: `suite:` (the header) and `items:` (a list).

Corpus paths that are not absolute resolve against the suite file's folder, then the repository root.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.metrics import normalize_answer
from rag.dates import parse_bound
from rag.errors import InvalidInput
from rag.models import Article, ChatTurn

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = Path(__file__).resolve().parent

AnswerType = Literal["yes_no", "entity", "free", "refusal"]


class SuiteError(ValueError):
    """A suite file that cannot be read or does not validate; the message names file and line."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _date(value: Any, field: str, end: bool) -> Any:
    """'2024', '2024-10', '2024-10-01' or ISO 8601; a bare day or month as an upper bound means its end."""
    if not isinstance(value, str):
        return value
    try:
        return parse_bound(value, end=end, field=field)
    except InvalidInput as exc:
        raise ValueError(exc.message) from exc


def _strings(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value


class Filters(_Frozen):
    """Hard filters passed to the service with the question."""

    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    article_ids: tuple[str, ...] = Field(default=(), description="Restrict retrieval to these article ids.")

    _sources = field_validator("sources", "article_ids", mode="before")(_strings)

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value: Any) -> Any:
        return _date(value, "since", end=False)

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value: Any) -> Any:
        return _date(value, "until", end=True)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("dates must be timezone-aware (or a plain YYYY-MM-DD)")
        return value


class GoldEvidence(_Frozen):
    """What should be retrieved and cited: article urls, article ids, or quotes found in article bodies."""

    urls: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    quotes: tuple[str, ...] = ()

    _lists = field_validator("urls", "article_ids", "quotes", mode="before")(_strings)

    @property
    def empty(self) -> bool:
        return not (self.urls or self.article_ids or self.quotes)


class SuiteItem(_Frozen):
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    question_type: str = Field(default="general", description="Free label used to break metrics down.")
    history: tuple[ChatTurn, ...] = ()
    as_of: datetime | None = None
    filters: Filters = Filters()
    answer: tuple[str, ...] = Field(default=(), description="Acceptable answers (any one will do).")
    must_include: tuple[tuple[str, ...], ...] = Field(
        default=(), description="Every group must appear in the answer; a group lists alternatives."
    )
    answer_type: AnswerType = "free"
    fake_answer: tuple[str, ...] = Field(default=(), description="Counterfactual: the false fact the passages state.")
    evidence: GoldEvidence = GoldEvidence()

    _answers = field_validator("answer", "fake_answer", mode="before")(_strings)

    @field_validator("must_include", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return ((value,),)
        return tuple((g,) if isinstance(g, str) else g for g in value)

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, value: Any) -> Any:
        return _date(value, "as_of", end=True)

    @model_validator(mode="after")
    def _consistent(self) -> SuiteItem:
        if self.as_of is not None and self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware (or a plain YYYY-MM-DD)")
        if self.answer_type != "refusal" and not (self.answer or self.must_include):
            raise ValueError(f"answer_type {self.answer_type!r} needs an 'answer' or 'must_include'")
        if self.answer_type == "yes_no":
            bad = [a for a in self.answer if normalize_answer(a) not in ("yes", "no")]
            if bad or not self.answer:
                raise ValueError(f"yes_no answers must be 'yes' or 'no', got {list(self.answer)}")
        return self

    @property
    def should_refuse(self) -> bool:
        return self.answer_type == "refusal"

    @property
    def counterfactual(self) -> bool:
        return bool(self.fake_answer)


class SuiteHeader(_Frozen):
    name: str = Field(min_length=1)
    description: str = ""
    corpus: tuple[str, ...] = Field(default=(), description="Files or folders to ingest (any format `ingest` reads).")
    version: int = 1

    _corpus = field_validator("corpus", mode="before")(_strings)


@dataclass(frozen=True)
class Suite:
    """A loaded suite: header, items, and the corpus (paths to ingest and/or in-memory articles)."""

    header: SuiteHeader
    items: tuple[SuiteItem, ...]
    corpus_paths: tuple[Path, ...] = ()
    articles: tuple[Article, ...] = ()
    origin: str = ""

    @property
    def name(self) -> str:
        return self.header.name

    def corpus(self) -> Iterator[Any]:
        """LoadedItems for ingest: files under corpus_paths, then the in-memory articles."""
        from ingest.loaders import LoadedItem, load_many

        yield from load_many(self.corpus_paths)
        for article in self.articles:
            yield LoadedItem(self.origin or self.name, article.id, article=article)

    def limited(self, n: int | None) -> Suite:
        """The first n items. An in-memory corpus shrinks to the articles those items are restricted to."""
        if n is None or n >= len(self.items):
            return self
        items = self.items[: max(0, n)]
        articles = self.articles
        if articles and items and all(i.filters.article_ids for i in items):
            keep = {aid for i in items for aid in i.filters.article_ids}
            articles = tuple(a for a in articles if a.id in keep)
        return replace(self, items=items, articles=articles)


def _error(where: str, exc: ValidationError | Exception) -> SuiteError:
    if isinstance(exc, ValidationError):
        details = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'item'}: {err['msg']}" for err in exc.errors())
        return SuiteError(f"{where}: {details}")
    return SuiteError(f"{where}: {exc}")


def resolve_corpus(entries: tuple[str, ...], base: Path) -> tuple[Path, ...]:
    """Absolute paths as they are; relative ones against the suite's folder, then the repository root."""
    out: list[Path] = []
    for entry in entries:
        path = Path(entry).expanduser()
        candidates = [path] if path.is_absolute() else [base / path, REPO_ROOT / path]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            tried = ", ".join(str(c) for c in candidates)
            raise SuiteError(f"corpus {entry!r} not found (tried {tried})")
        out.append(found.resolve())
    return tuple(out)


def _sidecar_header(path: Path) -> dict[str, Any] | None:
    for suffix in (".suite.json", ".suite.yaml", ".suite.yml"):
        sidecar = path.with_name(path.stem + suffix)
        if sidecar.exists():
            try:
                text = sidecar.read_text(encoding="utf-8")
                data = json.loads(text) if suffix == ".suite.json" else yaml.safe_load(text)
            except (OSError, ValueError, yaml.YAMLError) as exc:
                raise _error(str(sidecar), exc) from exc
            if not isinstance(data, dict):
                raise SuiteError(f"{sidecar}: must hold one mapping")
            return dict(data.get("suite", data))
    return None


def _records(path: Path) -> tuple[dict[str, Any] | None, list[tuple[str, Any]]]:
    """(header or None, [(where, record)]) from a JSONL or YAML suite file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read suite {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise _error(str(path), exc) from exc
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise SuiteError(f"{path}: a YAML suite is a mapping with 'suite' and an 'items' list")
        return data.get("suite"), [(f"{path}:items[{i}]", r) for i, r in enumerate(data["items"])]
    header: dict[str, Any] | None = None
    records: list[tuple[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from exc
        if isinstance(record, dict) and set(record) == {"suite"}:
            if header is not None or records:
                raise SuiteError(f"{path}:{lineno}: the suite header must be the first line")
            header = record["suite"]
            continue
        records.append((f"{path}:{lineno}", record))
    return header, records


def load_suite_file(path: str | Path, corpus_override: tuple[str | Path, ...] = ()) -> Suite:
    """Read and validate a suite file; every problem is a SuiteError naming file and line."""
    path = Path(path)
    raw_header, records = _records(path)
    if raw_header is None:
        raw_header = _sidecar_header(path)
    if raw_header is None:
        raw_header = {"name": path.stem}
    try:
        header = SuiteHeader.model_validate(raw_header)
    except ValidationError as exc:
        raise _error(f"{path}: header", exc) from exc
    items: list[SuiteItem] = []
    seen: dict[str, str] = {}
    for where, record in records:
        if not isinstance(record, dict):
            raise SuiteError(f"{where}: each item must be a JSON object")
        try:
            item = SuiteItem.model_validate(record)
        except ValidationError as exc:
            raise _error(where, exc) from exc
        if item.id in seen:
            raise SuiteError(f"{where}: duplicate id {item.id!r} (first at {seen[item.id]})")
        seen[item.id] = where
        items.append(item)
    if not items:
        raise SuiteError(f"{path}: no items")
    if corpus_override:
        corpus = tuple(Path(p).resolve() for p in corpus_override)
        missing = [str(p) for p in corpus if not p.exists()]
        if missing:
            raise SuiteError(f"corpus not found: {', '.join(missing)}")
    else:
        corpus = resolve_corpus(header.corpus, path.parent)
    return Suite(header=header, items=tuple(items), corpus_paths=corpus, origin=str(path))
