"""Data that crosses module lines. Frozen, typed, never bare dicts."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

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


class SourceIdentity(Frozen):
    """Which passage of which article: the fields every hit, citation and listed source carries."""

    article_id: str = Field(description="Id of the article (GET /v1/articles/{id}).")
    chunk_id: str = Field(description="Id of the retrieved passage.")
    title: str = Field(description="Headline of the article.")
    source: str | None = Field(None, description="The outlet that published it.")
    url: str | None = Field(None, description="Link to the article, as the publisher gave it.")
    published_at: datetime | None = Field(None, description="When it was published (ISO 8601, with zone).")

    def identity(self) -> dict[str, object]:
        """The identity fields alone, to build another kind of source from this one."""
        return {name: getattr(self, name) for name in SourceIdentity.model_fields}


class Hit(SourceIdentity):
    """A retrieved chunk with everything a citation needs."""

    index: int
    start: int
    end: int
    text: str
    score: float = 0.0
    similarity: float | None = Field(None, description="Cosine similarity to the question, if dense.")
    dense_rank: int | None = None
    keyword_rank: int | None = None

    @classmethod
    def of(cls, article: Article, chunk_id: str, index: int, start: int, end: int, **ranking: Any) -> Hit:
        """A passage of a stored article: its text is the body at start:end, as every citation's is."""
        return cls(
            article_id=article.id,
            chunk_id=chunk_id,
            title=article.title,
            source=article.source,
            url=article.url,
            published_at=article.published_at,
            index=index,
            start=start,
            end=end,
            text=article.body[start:end],
            **ranking,
        )


class Citation(SourceIdentity):
    n: int = Field(ge=1, description="The number of the `[n]` marker in the answer text (1..number of citations).")
    quote: str = Field(description="The sentence that best supports the claim, verbatim: body[start:end] == quote.")
    start: int = Field(description="Offset of the quote in the article body.")
    end: int = Field(description="End offset of the quote in the article body (exclusive).")
    supported: bool = Field(
        True, description="False when the best sentence of the cited source supports the claim only weakly."
    )
    support_score: float = Field(0.0, description="How well the quote supports the claim (0-1).")

    @classmethod
    def of(
        cls, hit: SourceIdentity, n: int, quote: str, start: int, end: int, support_score: float, supported: bool
    ) -> Citation:
        return cls(
            **hit.identity(),
            n=n,
            quote=quote,
            start=start,
            end=end,
            supported=supported,
            support_score=support_score,
        )


class SourceRef(SourceIdentity):
    """A source that was considered (retrieved), cited or not."""

    score: float = Field(0.0, description="Retrieval score (fused rank score; higher is better).")

    @classmethod
    def of(cls, hit: Hit) -> SourceRef:
        return cls(**hit.identity(), score=round(hit.score, 6))


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

    text: str = Field(min_length=1, description="The answering span, e.g. '$13 billion'.")
    citation: int = Field(ge=1, description="The citation number (n) whose quote holds `text` verbatim.")


class Answer(Frozen):
    question: str = Field(description="The question as asked.")
    standalone_question: str | None = Field(
        None, description="The follow-up rewritten as a standalone question (only when history was given)."
    )
    answer: str = Field(description="The answer, with `[n]` markers pointing into `citations`; for a refusal, why not.")
    short_answer: ShortAnswer | None = Field(
        None, description="The span that answers, verbatim from a cited quote; null for free and yes/no questions."
    )
    citations: tuple[Citation, ...] = Field(
        (), description="One entry per marker number, in order 1..n, each verified."
    )
    refused: bool = Field(False, description="True when the articles do not answer the question.")
    refusal_reason: RefusalReason | None = Field(None, description="Why it refused.")
    sources: tuple[SourceRef, ...] = Field(
        (), description="What retrieval found (cited or not); for a refusal, the closest articles found."
    )
    conflicts: tuple[str, ...] = Field((), description="Where the sources disagree, who said what.")
    newest_source_at: datetime | None = Field(None, description="Publication time of the newest cited source.")
    as_of: datetime | None = Field(None, description="The moment the answer was given for (now, unless asked).")
    mode: str = Field("extractive", description="Which answerer wrote it: 'extractive' or 'openai'.")
    truncated: bool = Field(False, description="The LLM stopped at its token limit (NEWSRAG_LLM_MAX_TOKENS).")
    removed_markers: int = Field(0, description="Citation markers removed because they named no retrieved source.")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="Milliseconds per stage.")


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
