"""Data that crosses module lines. Frozen, typed, never bare dicts."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(Frozen):
    """One news article as stored. `body` is the text every chunk offset and citation points into."""

    id: str
    title: str
    body: str
    url: str | None = None
    source: str | None = Field(None, description="The outlet, e.g. 'The Verge'.")
    author: str | None = None
    published_at: datetime | None = Field(None, description="Publication time, timezone-aware.")
    updated_at: datetime | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    alt_urls: tuple[str, ...] = Field((), description="Other URLs the same text was published under.")
    origin: str | None = Field(None, description="Where it was loaded from: 'path' or 'path:line'.")

    @field_validator("published_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value

    def content_hash(self, salt: str = "") -> str:
        """Hash of everything that changes what is stored; origin and alt_urls do not count.

        `salt` names how it is stored (chunker and embedder), so changing those re-embeds the article.
        """
        payload = self.model_dump(mode="json", exclude={"origin", "alt_urls"})
        return hashlib.sha256((json.dumps(payload, sort_keys=True) + salt).encode()).hexdigest()

    def body_hash(self) -> str:
        """Identity of the text alone: syndicated copies under other URLs share it."""
        normalised = " ".join(self.body.split()).casefold()
        return hashlib.sha256(normalised.encode()).hexdigest()


class Chunk(Frozen):
    """A slice of an article body: `article.body[start:end] == text`."""

    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    embed_text: str = Field(description="What the embedder sees: the title line, then the text.")


class Hit(Frozen):
    """A retrieved chunk with everything a citation needs."""

    chunk_id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    title: str
    source: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    score: float = 0.0
    similarity: float | None = Field(None, description="Cosine similarity to the question, if dense.")
    dense_rank: int | None = None
    keyword_rank: int | None = None


class Citation(Frozen):
    n: int = Field(ge=1)
    article_id: str
    chunk_id: str
    title: str
    source: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    quote: str = Field(description="Verbatim text of the article body at start:end.")
    start: int
    end: int
    supported: bool = True
    support_score: float = 0.0


class SourceRef(Frozen):
    """A source that was considered (retrieved), cited or not."""

    article_id: str
    chunk_id: str
    title: str
    source: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    score: float = 0.0


RefusalReason = Literal[
    "no_relevant_sources",  # nothing retrieved is on the question's topic
    "not_in_sources",  # on topic, but no sentence holds what the question asks for
    "not_yet_reportable",  # the question is about a time after as_of
    "no_sources_in_date_range",
    "sources_conflict",
    "empty_store",
    "model_declined",
]


class ShortAnswer(Frozen):
    """The answer itself ("$13 billion", "Thrive Capital"): verbatim inside the quote of citation `citation`."""

    text: str = Field(min_length=1)
    citation: int = Field(ge=1, description="The citation number (n) whose quote holds `text` verbatim.")


class Answer(Frozen):
    question: str
    standalone_question: str | None = None
    answer: str
    short_answer: ShortAnswer | None = Field(
        None, description="The span that answers, verbatim from a cited quote; null for free and yes/no questions."
    )
    citations: tuple[Citation, ...] = ()
    refused: bool = False
    refusal_reason: RefusalReason | None = None
    sources: tuple[SourceRef, ...] = ()
    conflicts: tuple[str, ...] = ()
    newest_source_at: datetime | None = None
    mode: str = "extractive"
    removed_markers: int = 0
    timings_ms: dict[str, float] = Field(default_factory=dict)


class IngestFailure(Frozen):
    path: str
    item: str | None = Field(None, description="Line number, entry index or id inside the file.")
    error: str


class IngestReport(Frozen):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: tuple[IngestFailure, ...] = ()
    chunks: int = Field(0, description="Chunks written in this run.")
    seconds: float = 0.0


class ChatTurn(Frozen):
    role: Literal["user", "assistant"]
    content: str


class Query(Frozen):
    """One question with everything that narrows it: history for follow-ups, filters, as_of, k."""

    question: str = Field(min_length=1)
    history: tuple[ChatTurn, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = Field(None, description="Answer as if it were this moment (default: now).")
    article_ids: tuple[str, ...] = ()
    k: int | None = Field(None, ge=1, le=100)


class SourcesEvent(Frozen):
    event: Literal["sources"] = "sources"
    sources: tuple[SourceRef, ...]


class TokenEvent(Frozen):
    event: Literal["token"] = "token"
    text: str


class CitationEvent(Frozen):
    event: Literal["citation"] = "citation"
    citation: Citation


class DoneEvent(Frozen):
    event: Literal["done"] = "done"
    answer: Answer


StreamEvent = SourcesEvent | TokenEvent | CitationEvent | DoneEvent
