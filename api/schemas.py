"""The HTTP contract: request and response bodies, every field described (they make the /docs page).

Requests are checked here against the limits in Settings (question length, k, history) and turned into
the core's `Query`; a problem becomes InvalidInput naming the field, which the one handler answers 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ingest.state import Source
from rag.dates import DateWindow, parse_bound
from rag.errors import InvalidInput
from rag.models import Article, ChatTurn, Citation, IngestReport, Query, RefusalReason
from rag.settings import Settings

MAX_HISTORY_TURNS = 50
MAX_TURN_CHARS = 20_000
MAX_FILTER_SOURCES = 50


def _unicode(value: str) -> str:
    """Reject lone surrogates ("\\ud800" is valid JSON but not text any store can hold)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (lone surrogate)") from exc
    return value


Text = Annotated[str, AfterValidator(_unicode)]
DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?$"
DateText = Annotated[str, Field(max_length=64, pattern=DATE_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------- ask


class Turn(Strict):
    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: Text = Field(max_length=MAX_TURN_CHARS, description="What was said.")


class Filters(Strict):
    sources: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list,
        max_length=MAX_FILTER_SOURCES,
        description="Only articles from these outlets (case-insensitive), e.g. ['The Verge']. Empty: all.",
    )
    since: DateText | None = Field(
        None,
        description="Only articles published on or after this date: 'YYYY', 'YYYY-MM', 'YYYY-MM-DD' "
        "or an ISO 8601 time (a bare date starts at 00:00 UTC).",
        examples=["2024-01-01"],
    )
    until: DateText | None = Field(
        None,
        description="Only articles published on or before this date; a bare 'YYYY-MM-DD' includes the "
        "whole day, 'YYYY-MM' the whole month, 'YYYY' the whole year.",
        examples=["2025-12-31"],
    )


class AskRequest(Strict):
    question: Text = Field(
        min_length=1,
        description="The question, in plain language. At most NEWSRAG_MAX_QUESTION_CHARS characters "
        "(default 2000). It may name outlets ('according to The Verge') and times ('last month').",
        examples=["How much has Microsoft invested in OpenAI?"],
    )
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns of the conversation, oldest first, for follow-up questions "
        "('How much did it invest?'); the question is rewritten as a standalone one before retrieval.",
    )
    filters: Filters = Field(default_factory=Filters, description="Hard filters on outlet and date.")
    as_of: DateText | None = Field(
        None,
        description="Answer as if it were this moment (default: now): articles published later are "
        "ignored, and 'latest' or 'last month' are read relative to it. Same formats as `since`.",
    )
    k: int | None = Field(
        None,
        ge=1,
        le=100,
        description="How many passages to retrieve (default NEWSRAG_TOP_K, 8; at most NEWSRAG_MAX_K).",
    )


def check_question(question: str, settings: Settings, field: str = "question") -> str:
    if not question.strip():
        raise InvalidInput("the question is empty", field=field)
    if len(question) > settings.max_question_chars:
        raise InvalidInput(
            f"the question has {len(question):,} characters; the limit is {settings.max_question_chars:,}",
            field=field,
        )
    return question


def check_k(k: int | None, settings: Settings) -> int | None:
    limit = min(settings.max_k, 100)
    if k is not None and not 1 <= k <= limit:
        raise InvalidInput(f"k must be between 1 and {limit}", field="k")
    return k


def make_query(
    settings: Settings,
    question: str,
    history: list[ChatTurn] | None = None,
    filters: Filters | None = None,
    as_of: str | None = None,
    k: int | None = None,
    question_field: str = "question",
) -> Query:
    filters = filters or Filters()
    window = DateWindow.parse(filters.since, filters.until, since_field="filters.since", until_field="filters.until")
    try:
        return Query(
            question=check_question(question, settings, question_field),
            history=tuple(history or ()),
            sources=tuple(s.strip() for s in filters.sources if s.strip()),
            since=window.since,
            until=window.until,
            as_of=parse_bound(as_of, end=True, field="as_of"),
            k=check_k(k, settings),
        )
    except ValidationError as exc:  # the core's own bounds (defence in depth)
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidInput(str(first.get("msg", "invalid query")), field=field) from exc


def ask_query(request: AskRequest, settings: Settings) -> Query:
    history = [ChatTurn(role=t.role, content=t.content) for t in request.history]
    return make_query(settings, request.question, history, request.filters, request.as_of, request.k)


# --------------------------------------------------------------------------------------- answers
# Answers are served as the core models themselves (rag.models.Answer, Citation, SourceRef): one
# declaration, so the HTTP contract cannot drift from what the chain returns.


# -------------------------------------------------------------------------------------- articles


class ArticleIn(BaseModel):
    """One article to ingest. Field names and their aliases are those the CLI's JSON loader takes
    (e.g. `text`/`content` for `body`, `link` for `url`, `outlet`/`publisher` for `source`)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "title": "Microsoft and OpenAI sign a new agreement",
                "body": "Microsoft said on Tuesday ...",
                "url": "https://example.com/news/microsoft-openai",
                "source": "Example News",
                "published_at": "2025-10-28T09:00:00Z",
            }
        },
    )

    title: Any = Field(None, description="Headline (required).")
    body: Any = Field(None, description="Full text (required); alias text, content.")
    url: Any = Field(None, description="Canonical http(s) URL; articles are identified by it when given.")
    source: Any = Field(None, description="Outlet, e.g. 'The Verge'; alias outlet, publisher.")
    author: Any = Field(None, description="Author or byline.")
    published_at: Any = Field(None, description="Publication time: ISO 8601, a date, or epoch seconds.")
    updated_at: Any = Field(None, description="Last update time, same formats.")
    category: Any = Field(None, description="Section or category.")
    tags: Any = Field(None, description="A list of tags or a comma-separated string.")
    id: Any = Field(None, description="Your own id (1-128 of A-Z a-z 0-9 . _ -), used when there is no url.")


class ItemResult(BaseModel):
    index: int = Field(description="Position of the article in the request list (0-based).")
    id: str | None = Field(None, description="The stored article id (when the article was valid).")
    ok: bool = Field(description="True when the article was stored (or was already stored unchanged).")
    error: str | None = Field(None, description="Why it was rejected.")
    field: str | None = Field(None, description="The field that was wrong, when known.")


# What every ingest result copies from the pipeline's IngestReport as it is (`failed` each counts its own way).
REPORT_COUNTS: set[str] = {"added", "updated", "unchanged", "duplicates"}


class IngestTotals(BaseModel):
    """The totals of one ingest, of articles sent or of URLs fetched."""

    added: int = Field(description="New articles stored.")
    updated: int = Field(description="Stored articles whose content changed (old passages replaced).")
    unchanged: int = Field(description="Articles already stored with the same content (nothing done).")
    duplicates: int = Field(
        description="Syndicated copies of a stored text (recorded as aliases, their URLs as its other URLs)."
    )
    failed: int = Field(description="Articles rejected (and URLs that failed); see `items`.")
    chunks: int = Field(description="Passages embedded and written.")
    seconds: float = Field(description="Time the ingest took.")

    @classmethod
    def of(cls, report: IngestReport, failed: int, **results: Any) -> Self:
        """The totals from the pipeline's report, with the result's own lists."""
        return cls(**report.model_dump(include=REPORT_COUNTS | {"chunks", "seconds"}), failed=failed, **results)


class IngestResult(IngestTotals):
    items: list[ItemResult] = Field(description="One result per article sent, in order.")


class ArticleSummary(BaseModel):
    id: str = Field(description="Article id.")
    title: str = Field(description="Headline.")
    url: str | None = Field(None, description="Canonical URL.")
    source: str | None = Field(None, description="Outlet.")
    author: str | None = Field(None, description="Author.")
    published_at: datetime | None = Field(None, description="Publication time.")
    updated_at: datetime | None = Field(None, description="Last update time.")
    category: str | None = Field(None, description="Section.")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    alt_urls: list[str] = Field(default_factory=list, description="Other URLs the same text was published at.")

    @classmethod
    def of(cls, article: Article) -> ArticleSummary:
        return cls.model_validate(article.model_dump(exclude={"body", "origin"}))


class ArticleOut(ArticleSummary):
    body: str = Field(description="Full text; citation offsets point into it.")
    origin: str | None = Field(None, description="Where it was loaded from.")

    @classmethod
    def of(cls, article: Article) -> ArticleOut:
        return cls.model_validate(article.model_dump())


class ArticlePage(BaseModel):
    total: int = Field(description="How many articles match the filters.")
    limit: int = Field(description="Page size used.")
    offset: int = Field(description="How many matching articles were skipped.")
    items: list[ArticleSummary] = Field(description="Newest first.")


class Deleted(BaseModel):
    deleted: str = Field(description="Id of the article removed (with all its passages).")


class OutletCount(BaseModel):
    name: str = Field(description="Outlet name as stored.")
    articles: int = Field(description="How many articles it has.")


class CorpusInfo(BaseModel):
    articles: int = Field(description="Articles stored.")
    sources: list[OutletCount] = Field(description="Outlets, most articles first.")
    oldest: datetime | None = Field(None, description="Oldest publication time.")
    newest: datetime | None = Field(None, description="Newest publication time.")
    mode: str = Field(description="Answerer in use: 'extractive' or 'openai'.")
    watched: list[Source] = Field(
        default_factory=list,
        description="URLs polled on a schedule (POST/DELETE /v1/sources), with their last fetch, status, "
        "last error and articles added.",
    )


# ------------------------------------------------------------------------ URLs, sources, jobs


class UrlsIn(Strict):
    """`POST /v1/articles` with URLs instead of articles: each is fetched and recognised."""

    urls: list[Annotated[Text, Field(min_length=1, max_length=2_000)]] = Field(
        min_length=1,
        max_length=500,
        description="Feed (RSS/Atom), sitemap or sitemap index, or article page URLs; http and https only.",
    )
    summary_only: bool = Field(False, description="Keep feed summaries as they are; do not fetch the pages.")
    background: bool = Field(
        False, description="Run as a job (202 with a job id) even for a few URLs; more than 5 always do."
    )


class UrlResult(BaseModel):
    url: str = Field(description="The URL as given.")
    status: str = Field(description="ok, not_modified (HTTP 304: nothing to do), partial (some entries failed), error.")
    error: str | None = Field(None, description="Why the URL itself failed (network, status, type, robots.txt).")
    added: int = Field(description="New articles stored.")
    updated: int = Field(description="Stored articles whose content changed (old passages replaced).")
    unchanged: int = Field(description="Articles already stored with the same content.")
    duplicates: int = Field(description="Copies of a stored text under another URL (kept as its other URLs).")
    failed: int = Field(description="Entries or pages of this URL that failed.")
    not_modified: int = Field(description="URLs answered 304 (or listed unchanged by a sitemap).")
    skipped_old: int = Field(0, description="Entries older than NEWSRAG_RETENTION_DAYS, not fetched.")
    requests: int = Field(description="HTTP requests made (robots.txt included).")
    conditional: int = Field(description="Of which conditional (If-None-Match / If-Modified-Since).")


class UrlItemResult(BaseModel):
    url: str = Field(description="The URL it was found at (the feed or sitemap, or the page itself).")
    item: str | None = Field(None, description="Which entry or page, e.g. 'entry 3 (https://...)'.")
    id: str | None = Field(None, description="The stored article id (when the article was valid).")
    ok: bool = Field(description="True when the article was stored (or was already stored unchanged).")
    error: str | None = Field(None, description="Why it was not stored.")


class UrlIngestResult(IngestTotals):
    urls: list[UrlResult] = Field(description="One result per URL given.")
    items: list[UrlItemResult] = Field(description="One result per article found (feed entry, sitemap page, page).")


JobStatus = Literal["queued", "running", "done", "failed"]


class JobOut(BaseModel):
    id: str = Field(description="GET /v1/jobs/{id} for its progress and result.")
    status: JobStatus = Field(description="queued, running, done or failed.")
    created_at: datetime = Field(description="When the job was submitted.")
    finished_at: datetime | None = Field(None, description="When it finished.")
    urls: int = Field(description="URLs in the job.")
    done_urls: int = Field(0, description="URLs finished so far.")
    articles: int = Field(0, description="Articles processed so far.")
    result: UrlIngestResult | None = Field(None, description="Per-URL and per-item results, once done.")
    error: str | None = Field(None, description="Why the job failed as a whole.")


class SourceIn(Strict):
    url: Text = Field(min_length=1, max_length=2_000, description="Feed, sitemap or page URL (http or https).")
    every: str = Field("15m", max_length=16, description="How often to poll: 15m, 2h, 1d (at least a minute).")
    name: Text | None = Field(None, max_length=200, description="A label for lists.")
    summary_only: bool = Field(False, description="Keep feed summaries as they are; do not fetch the pages.")


# --------------------------------------------------------------------------------------- health


class Health(BaseModel):
    status: str = Field(description="'ok' while the process serves requests.")


class Check(BaseModel):
    ok: bool = Field(description="Whether this dependency answered.")
    detail: str = Field(description="What was checked, or what failed.")


class Readiness(BaseModel):
    status: str = Field(description="'ready' or 'unavailable'.")
    checks: dict[str, Check] = Field(description="One entry per dependency: 'store', and 'llm' if configured.")


# ------------------------------------------------------------------------------- OpenAI-compatible


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(description="Part type; only 'text' parts are read.")
    text: Text | None = Field(None, description="The text of a 'text' part.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"] = Field(
        description="Author of the message. System and tool messages are ignored."
    )
    content: Text | list[ContentPart] | None = Field(None, description="The message text, or a list of content parts.")
    name: str | None = Field(None, description="Optional participant name (ignored).")

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = Field(False, description="Send a last chunk with token usage.")


class ChatRequest(BaseModel):
    """An OpenAI chat completion request. Sampling parameters are accepted and ignored (the answer is
    grounded in the articles); `filters`, `as_of` and `k` are newsrag extensions (send them with the
    openai client's `extra_body`)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="Must be 'newsrag' (GET /v1/models).", examples=["newsrag"])
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation; the last user message is the question, earlier user and "
        "assistant messages are the history used for follow-ups.",
    )
    stream: bool | None = Field(False, description="Stream the answer as chat.completion.chunk events.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    filters: Filters | None = Field(None, description="newsrag extension: outlet and date filters.")
    as_of: DateText | None = Field(None, description="newsrag extension: answer as of this date.")
    k: int | None = Field(None, ge=1, le=100, description="newsrag extension: passages to retrieve.")


class ChoiceMessage(BaseModel):
    role: Literal["assistant"] = Field("assistant", description="Always 'assistant'.")
    content: str = Field(description="The answer with `[n]` markers, then a 'Sources:' list, one line per [n].")


class Choice(BaseModel):
    index: int = Field(0, description="Always 0 (one choice).")
    message: ChoiceMessage = Field(description="The assistant message.")
    finish_reason: Literal["stop", "length"] = Field(
        "stop", description="'length' when the LLM stopped at its token limit (NEWSRAG_LLM_MAX_TOKENS), else 'stop'."
    )


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Approximate words in the messages.")
    completion_tokens: int = Field(description="Approximate words in the answer.")
    total_tokens: int = Field(description="Their sum.")


class ChatCompletion(BaseModel):
    id: str = Field(description="Completion id.")
    object: Literal["chat.completion"] = Field("chat.completion", description="Object type.")
    created: int = Field(description="Unix time.")
    model: str = Field(description="'newsrag'.")
    choices: list[Choice] = Field(description="One choice.")
    usage: Usage = Field(description="Approximate token counts.")
    citations: list[Citation] = Field(
        description="newsrag extension: the verified citations, numbered as the markers in the content."
    )
    refused: bool = Field(False, description="newsrag extension: True when the articles do not answer.")
    refusal_reason: RefusalReason | None = Field(None, description="newsrag extension: why it refused.")


class ModelCard(BaseModel):
    id: str = Field(description="Model id to send as `model`.")
    object: Literal["model"] = Field("model", description="Object type.")
    created: int = Field(description="Unix time.")
    owned_by: str = Field(description="Owner.")


class ModelList(BaseModel):
    object: Literal["list"] = Field("list", description="Object type.")
    data: list[ModelCard] = Field(description="The models served (just 'newsrag').")


class ErrorDetail(BaseModel):
    type: str = Field(description="Machine-readable kind, e.g. invalid_input, llm_unavailable, not_found.")
    message: str = Field(description="What went wrong, for a person.")
    field: str | None = Field(None, description="For invalid input: the field at fault.")


class ErrorOut(BaseModel):
    error: ErrorDetail = Field(description="The error.")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        401: "No or an invalid API key (when keys are configured).",
        403: "The key may not do this (writing needs an admin key).",
        404: "Unknown article or model.",
        413: "Request body or article count over the limit.",
        422: "Invalid input; `error.field` names the field.",
        502: "The LLM endpoint failed or sent an unusable reply.",
        503: "The vector store cannot be reached.",
        504: "The LLM endpoint did not answer in time.",
    }.items()
}


class OpenAIErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person.")
    type: str = Field(description="OpenAI's kind: invalid_request_error, authentication_error, server_error, ...")
    param: str | None = Field(None, description="The request field at fault, when known.")
    code: str | None = Field(None, description="A machine-readable code, e.g. model_not_found.")


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail = Field(description="The error, in OpenAI's shape.")


# The OpenAI-compatible routes answer errors in OpenAI's shape, invalid input as 400 (api/errors.py).
OPENAI_ERRORS: dict[int | str, dict[str, Any]] = {
    (400 if code == 422 else code): {
        "model": OpenAIErrorOut,
        "description": "Invalid input; `error.param` names the field." if code == 422 else spec["description"],
    }
    for code, spec in ERRORS.items()
}
