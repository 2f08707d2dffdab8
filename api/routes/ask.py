"""POST /v1/ask (one Answer) and POST /v1/ask/stream (server-sent events)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import get_qa, iterate_off_loop, require_reader, services
from api.errors import describe, log
from api.schemas import ERRORS, AskRequest, ask_query
from rag.chain import NewsQA
from rag.models import Answer, CitationEvent, DoneEvent, SourcesEvent, StreamEvent, TokenEvent

router = APIRouter(tags=["ask"], dependencies=[Depends(require_reader)])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def record_answer(request: Request, answer: Answer) -> None:
    services(request).metrics.count_answer(answer)


@router.post(
    "/v1/ask",
    response_model=Answer,
    summary="Answer a question with verified citations",
    responses=ERRORS,
)
async def ask(body: AskRequest, request: Request, qa: NewsQA = Depends(get_qa)) -> Answer:
    query = ask_query(body, services(request).settings)
    answer = await run_in_threadpool(qa.ask, query)
    record_answer(request, answer)
    return answer


def sse(event: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
    return f"event: {event}\ndata: {payload}\n\n".encode()


def encode_event(event: StreamEvent) -> bytes:
    if isinstance(event, SourcesEvent):
        return sse("sources", event.model_dump_json())
    if isinstance(event, TokenEvent):
        return sse("token", event.model_dump_json())
    if isinstance(event, CitationEvent):
        return sse("citation", event.model_dump_json())
    return sse("done", event.model_dump_json())


async def first_and_rest(events: AsyncIterator[StreamEvent]) -> tuple[StreamEvent | None, AsyncIterator[StreamEvent]]:
    """Pull the first event before the response starts: a store that is down, found during retrieval,
    still gets its proper status code (503) instead of a 200 stream that fails at once."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return None, events
    except BaseException:
        await events.aclose()  # type: ignore[attr-defined]
        raise
    return first, events


@router.post(
    "/v1/ask/stream",
    summary="Answer a question, streamed as server-sent events",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {
            "content": {"text/event-stream": {}},
            "description": "Events, in order: `sources` {sources: [SourceRef]} once; `token` {text} for each "
            "piece of the model's raw text as it is written; `citation` {citation: Citation} for each "
            "verified citation; `done` {answer: Answer} with the final, verified answer (its text replaces "
            "the raw tokens: markers renumbered, invalid ones removed). On a failure after the stream "
            "started: `error` {type, message}, and the stream ends.",
        },
    },
)
async def ask_stream(body: AskRequest, request: Request, qa: NewsQA = Depends(get_qa)) -> StreamingResponse:
    query = ask_query(body, services(request).settings)
    first, events = await first_and_rest(iterate_off_loop(qa.stream(query)))

    async def body_bytes() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield encode_event(first)
            async for event in events:
                if isinstance(event, DoneEvent):
                    record_answer(request, event.answer)
                yield encode_event(event)
        except Exception as exc:  # after the status line: tell the client in-band, then end cleanly
            _, payload = describe(exc)
            services(request).metrics.count_error(exc)
            if payload["error"]["type"] == "internal_error":
                log.error("stream of /v1/ask/stream failed", exc_info=exc)
            yield sse("error", payload["error"])

    return StreamingResponse(body_bytes(), media_type="text/event-stream", headers=SSE_HEADERS)
