"""OpenAI-compatible: POST /v1/chat/completions (streaming and not) and GET /v1/models.

Citations survive this path. The content is the answer as api.render writes it for people: the short
answer first, the text with `[n]` markers, how old the newest source is, then a "Sources:" list, one
line `[n] title — outlet, date, url` per marker; the response carries a `citations` field (on the last
chunk when streaming), so any chat UI that speaks the OpenAI API shows where each claim comes from.

Streaming: the chain's tokens already carry the numbers the final citations have. An LLM's tokens are
sent as it writes them; an extractive answer arrives whole, so its short answer can still lead.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import get_qa, iterate_off_loop, require_reader, services
from api.errors import describe_for, log
from api.render import render, strip_rendered, tail
from api.routes.ask import SSE_HEADERS, first_and_rest, record_answer
from api.schemas import (
    OPENAI_ERRORS,
    ChatCompletion,
    ChatMessage,
    ChatRequest,
    ModelCard,
    ModelList,
    make_query,
)
from rag.answer.base import words_as_tokens
from rag.chain import NewsQA
from rag.errors import InvalidInput, NotFound
from rag.models import ChatTurn, DoneEvent, Query, TokenEvent
from rag.settings import Settings
from rag.side_tasks import SideTask, detect

router = APIRouter(tags=["openai"], dependencies=[Depends(require_reader)])

MODEL_ID = "newsrag"
CREATED = 1_735_689_600  # 2025-01-01, when the model id was first served
MAX_HISTORY = 20
SOURCES_HEADING = "\n\nSources:\n"


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
        ChatTurn(role=m.role, content=strip_rendered(m.text())) for i, m in turns if i < last_user and m.text().strip()
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


def side_task_of(body: ChatRequest) -> SideTask | None:
    """A chat UI's title/tags/follow-up prompt in the last user message (the model id must still be ours)."""
    if body.model != MODEL_ID:
        return None
    last = next((m for m in reversed(body.messages) if m.role == "user"), None)
    return detect(last.text()) if last is not None else None


def side_reply(text: str, completion_id: str, created: int, prompt_tokens: int, stream: bool) -> Any:
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": _words(text),
        "total_tokens": prompt_tokens + _words(text),
    }
    if not stream:
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=MODEL_ID,
            choices=[{"message": {"content": text}}],
            usage=usage,
            citations=[],
        )

    def event(delta: dict[str, Any], finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID}
        return f"data: {json.dumps({**payload, 'choices': [choice]}, ensure_ascii=False)}\n\n"

    async def events() -> AsyncIterator[bytes]:
        for part in (event({"role": "assistant", "content": text}, None), event({}, "stop"), "data: [DONE]\n\n"):
            yield part.encode()

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


def _words(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------------------- routes


@router.get(
    "/v1/models", response_model=ModelList, summary="The models served (OpenAI-compatible)", responses=OPENAI_ERRORS
)
async def list_models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=CREATED, owned_by="newsrag")])


@router.get(
    "/v1/models/{model_id}",
    response_model=ModelCard,
    summary="One model (OpenAI-compatible)",
    responses=OPENAI_ERRORS,
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
        **OPENAI_ERRORS,
        200: {
            "content": {"application/json": {}, "text/event-stream": {}},
            "description": "A chat.completion, or with stream=true chat.completion.chunk events ending in "
            "`data: [DONE]`; the last content chunk carries `citations`. A failure after the stream "
            'started is sent as `data: {"error": {type, message}}`.',
        },
    },
)
async def chat_completions(body: ChatRequest, request: Request, qa: NewsQA = Depends(get_qa)) -> Any:
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    prompt_tokens = sum(_words(m.text()) for m in body.messages)
    task = side_task_of(body)
    if task is not None:
        text = await run_in_threadpool(qa.side_reply, task)
        return side_reply(text, completion_id, created, prompt_tokens, bool(body.stream))
    query = query_of(body, services(request).settings)
    if not body.stream:
        answer = await run_in_threadpool(qa.ask, query)
        record_answer(request, answer)
        content = render(answer)
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=MODEL_ID,
            choices=[{"message": {"content": content}, "finish_reason": "length" if answer.truncated else "stop"}],
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": _words(content),
                "total_tokens": prompt_tokens + _words(content),
            },
            citations=list(answer.citations),
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

    whole_answer = qa.mode == "extractive"  # arrives at once: hold it so the short answer can lead

    async def stream() -> AsyncIterator[bytes]:
        streamed: list[str] = []
        try:
            yield chunk({"role": "assistant", "content": ""})
            pending = [first] if first is not None else []
            async for event in _chain(pending, events):
                if isinstance(event, TokenEvent) and not whole_answer:
                    streamed.append(event.text)
                    yield chunk({"content": event.text})
                elif isinstance(event, DoneEvent):
                    answer = event.answer
                    record_answer(request, answer)
                    if whole_answer:  # sent in word pieces like any stream, the last with the citations
                        *pieces, ending = list(words_as_tokens(render(answer))) or [""]
                        for piece in pieces:
                            streamed.append(piece)
                            yield chunk({"content": piece})
                    elif answer.refused:  # the model's words stay; why it is no answer follows
                        ending = ("\n\n" if "".join(streamed).strip() else "") + answer.answer + tail(answer)
                    else:
                        ending = tail(answer)
                    yield chunk(
                        {"content": ending},
                        "length" if answer.truncated else "stop",
                        citations=[c.model_dump(mode="json") for c in answer.citations],
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
            _, error = describe_for(request.url.path, exc)
            services(request).metrics.count_error(exc)
            if error["error"]["code"] == "internal_error":
                log.error("stream of /v1/chat/completions failed", exc_info=exc)
            yield f"data: {json.dumps(error)}\n\n".encode()

    return StreamingResponse(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


async def _chain(first: list[Any], rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for item in first:
        yield item
    async for item in rest:
        yield item
