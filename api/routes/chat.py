"""OpenAI-compatible: POST /v1/chat/completions (streaming and not) and GET /v1/models.

Citations survive this path. The content ends with a "Sources:" list, one line `[n] title — outlet,
date, url` per marker, and the response carries a `citations` field (on the last chunk when streaming),
so any chat UI that speaks the OpenAI API shows where each claim comes from.

Streaming: tokens are the model's own text as it writes it; markers in them are rewritten on the fly
(the model numbers the retrieved passages; the reader sees 1, 2, 3 in order of first use, invalid numbers
dropped), so the streamed markers and the final Sources list agree. The non-streamed content is the
verified answer itself.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import get_qa, iterate_off_loop, require_reader, services
from api.errors import describe, log
from api.routes.ask import SSE_HEADERS, first_and_rest, record_answer
from api.schemas import (
    ERRORS,
    ChatCompletion,
    ChatMessage,
    ChatRequest,
    CitationOut,
    ModelCard,
    ModelList,
    make_query,
)
from rag.chain import NewsQA
from rag.citations import MARKER, _numbers
from rag.errors import InvalidInput, NotFound
from rag.models import Answer, ChatTurn, Citation, DoneEvent, Query, SourcesEvent, TokenEvent
from rag.settings import Settings

router = APIRouter(tags=["openai"], dependencies=[Depends(require_reader)])

MODEL_ID = "newsrag"
CREATED = 1_735_689_600  # 2025-01-01, when the model id was first served
MAX_HISTORY = 20
SOURCES_HEADING = "\n\nSources:\n"


# ------------------------------------------------------------------------------------ formatting


def _date(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value else "undated"


def sources_block(citations: Sequence[Citation]) -> str:
    lines = [
        f"[{c.n}] {c.title} — {c.source or 'unknown outlet'}, {_date(c.published_at)}, {c.url or c.article_id}"
        for c in citations
    ]
    return SOURCES_HEADING + "\n".join(lines) if lines else ""


def closest_block(answer: Answer) -> str:
    if not answer.sources:
        return ""
    seen: set[str] = set()
    lines = []
    for s in answer.sources:
        if s.article_id in seen:
            continue
        seen.add(s.article_id)
        lines.append(f"- {s.title} — {s.source or 'unknown outlet'}, {_date(s.published_at)}, {s.url or s.article_id}")
        if len(lines) == 3:
            break
    return "\n\nClosest sources:\n" + "\n".join(lines)


def answer_content(answer: Answer) -> str:
    if answer.refused:
        return answer.answer + closest_block(answer)
    return answer.answer + sources_block(answer.citations)


def strip_sources(text: str) -> str:
    """An assistant turn sent back as history loses the lists we appended to it."""
    for heading in (SOURCES_HEADING, "\n\nClosest sources:\n"):
        text = text.split(heading, 1)[0]
    return text.strip()


def query_of(body: ChatRequest, settings: Settings) -> Query:
    if body.model != MODEL_ID:
        raise NotFound(f"the model {body.model!r} does not exist; this server answers as {MODEL_ID!r}")
    turns: list[tuple[int, ChatMessage]] = [
        (i, m) for i, m in enumerate(body.messages) if m.role in ("user", "assistant")
    ]
    last_user = max((i for i, m in turns if m.role == "user"), default=None)
    if last_user is None:
        raise InvalidInput("the conversation has no user message to answer", field="messages")
    history = [
        ChatTurn(role=m.role, content=strip_sources(m.text())) for i, m in turns if i < last_user and m.text().strip()
    ][-MAX_HISTORY:]
    return make_query(
        settings,
        body.messages[last_user].text(),
        history,
        body.filters,
        body.as_of,
        body.k,
        question_field=f"messages.{last_user}.content",
    )


def _words(text: str) -> int:
    return len(text.split())


# -------------------------------------------------------------------------------------- markers


class LiveMarkers:
    """Rewrites citation markers in streamed text: the model's numbers (retrieved passage i) become the
    reader's (1, 2, 3 in order of first use); numbers that name no passage are dropped. A piece that may
    end inside a marker ("... [1") is held back until the marker closes."""

    HOLD = 40  # longest marker we wait for

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.order: list[int] = []  # passage numbers, in order of first use
        self.removed = 0
        self._pending = ""

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        cut = len(text)
        for opener, closer in (("[", "]"), ("(", ")"), ("【", "】")):
            i = text.rfind(opener)
            if i >= 0 and closer not in text[i:] and len(text) - i <= self.HOLD:
                cut = min(cut, i)
        self._pending = text[cut:]
        return self._rewrite(text[:cut])

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._rewrite(text)

    def _rewrite(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            spec = next(g for g in match.group("a", "b", "c", "d") if g is not None)
            out: list[int] = []
            for n in _numbers(spec):
                if not 1 <= n <= self.n_sources:
                    self.removed += 1
                    continue
                if n not in self.order:
                    self.order.append(n)
                shown = self.order.index(n) + 1
                if shown not in out:
                    out.append(shown)
            return "".join(f"[{n}]" for n in out)

        return MARKER.sub(replace, text)

    def citations(self, answer: Answer, sources: Sequence[Any]) -> list[Citation]:
        """The final citations renumbered as the stream showed them; verified citations the stream did
        not mark (sentences the verifier cited itself) follow with the next numbers."""
        by_chunk = {c.chunk_id: c for c in answer.citations}
        out: list[Citation] = []
        used: set[str] = set()
        for passage in self.order:
            ref = sources[passage - 1] if passage - 1 < len(sources) else None
            if ref is None:
                continue
            cited = by_chunk.get(ref.chunk_id)
            if cited is None:
                cited = Citation(
                    n=1,
                    article_id=ref.article_id,
                    chunk_id=ref.chunk_id,
                    title=ref.title,
                    source=ref.source,
                    url=ref.url,
                    published_at=ref.published_at,
                    quote="",
                    start=0,
                    end=0,
                    supported=False,
                )
            out.append(cited.model_copy(update={"n": len(out) + 1}))
            used.add(ref.chunk_id)
        for c in answer.citations:
            if c.chunk_id not in used:
                out.append(c.model_copy(update={"n": len(out) + 1}))
        return out


# ---------------------------------------------------------------------------------------- routes


@router.get("/v1/models", response_model=ModelList, summary="The models served (OpenAI-compatible)")
async def list_models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=CREATED, owned_by="newsrag")])


@router.get(
    "/v1/models/{model_id}", response_model=ModelCard, summary="One model (OpenAI-compatible)", responses=ERRORS
)
async def get_model(model_id: str) -> ModelCard:
    if model_id != MODEL_ID:
        raise NotFound(f"the model {model_id!r} does not exist; this server answers as {MODEL_ID!r}")
    return ModelCard(id=MODEL_ID, created=CREATED, owned_by="newsrag")


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    summary="Chat completion over the news articles, with citations (OpenAI-compatible)",
    responses={
        **ERRORS,
        200: {
            "content": {"application/json": {}, "text/event-stream": {}},
            "description": "A chat.completion, or with stream=true chat.completion.chunk events ending in "
            "`data: [DONE]`; the last content chunk carries `citations`. A failure after the stream "
            'started is sent as `data: {"error": {type, message}}`.',
        },
    },
)
async def chat_completions(body: ChatRequest, request: Request, qa: NewsQA = Depends(get_qa)) -> Any:
    query = query_of(body, services(request).settings)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    prompt_tokens = sum(_words(m.text()) for m in body.messages)
    if not body.stream:
        answer = await run_in_threadpool(qa.ask, query)
        record_answer(request, answer)
        content = answer_content(answer)
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=MODEL_ID,
            choices=[{"message": {"content": content}}],
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": _words(content),
                "total_tokens": prompt_tokens + _words(content),
            },
            citations=[CitationOut.model_validate(c.model_dump()) for c in answer.citations],
            refused=answer.refused,
            refusal_reason=answer.refusal_reason,
        )

    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    first, events = await first_and_rest(iterate_off_loop(qa.stream(query)))

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload, ensure_ascii=False, default=str)}\n\n".encode()

    async def stream() -> AsyncIterator[bytes]:
        sources: tuple[Any, ...] = ()
        markers = LiveMarkers(0)
        streamed: list[str] = []
        try:
            yield chunk({"role": "assistant", "content": ""})
            pending = [first] if first is not None else []
            async for event in _chain(pending, events):
                if isinstance(event, SourcesEvent):
                    sources = event.sources
                    markers = LiveMarkers(len(sources))
                elif isinstance(event, TokenEvent):
                    text = markers.feed(event.text)
                    if text:
                        streamed.append(text)
                        yield chunk({"content": text})
                elif isinstance(event, DoneEvent):
                    answer = event.answer
                    record_answer(request, answer)
                    tail = markers.flush()
                    streamed.append(tail)
                    if answer.refused:
                        ending = ("\n\n" if "".join(streamed).strip() else "") + answer.answer + closest_block(answer)
                        cited: list[Citation] = []
                    else:
                        cited = markers.citations(answer, sources)
                        newest = answer.answer.rfind("\n\n(Newest source cited:")
                        note = answer.answer[newest:] if newest >= 0 else ""
                        ending = note + sources_block(cited)
                    yield chunk(
                        {"content": tail + ending},
                        "stop",
                        citations=[CitationOut.model_validate(c.model_dump()).model_dump(mode="json") for c in cited],
                        refused=answer.refused,
                        refusal_reason=answer.refusal_reason,
                    )
                    completion = _words("".join(streamed) + ending)
                    if include_usage:
                        usage = {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion,
                            "total_tokens": prompt_tokens + completion,
                        }
                        payload = {
                            "id": completion_id,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": MODEL_ID,
                            "choices": [],
                            "usage": usage,
                        }
                        yield f"data: {json.dumps(payload)}\n\n".encode()
            yield b"data: [DONE]\n\n"
        except Exception as exc:  # after the status line: an OpenAI-style error event, then the end
            _, error = describe(exc)
            services(request).metrics.count_error(exc)
            if error["error"]["type"] == "internal_error":
                log.error("stream of /v1/chat/completions failed", exc_info=exc)
            yield f"data: {json.dumps(error)}\n\n".encode()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


async def _chain(first: list[Any], rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for item in first:
        yield item
    async for item in rest:
        yield item
