"""A scripted OpenAI-compatible server: replies are queued by the caller, served over real HTTP.

A small FastAPI app run by a real uvicorn server in a background thread on a free 127.0.0.1 port, so the
code under test talks to it through the real `openai` client (directly or inside `ChatOpenAI`), with real
sockets, real SSE framing, real timeouts and real connection errors. The tests' `fake_llm` fixture
(tests/support/fake_llm.py) and the time-to-first-token benchmark (benchmarks/api.py) both run it; it
needs no pytest, because benchmarks must run from a core install and never import tests/.

Endpoints (under `base_url`, which ends in `/v1`):
  POST /v1/chat/completions   non-stream JSON or, with "stream": true, SSE chunks as OpenAI sends them
                              (role delta, one content delta per token, a finish chunk, the usage chunk when
                              stream_options.include_usage, then `data: [DONE]`)
  GET  /v1/models             what /readyz asks an LLM endpoint
  POST /v1/embeddings         deterministic hashed bag-of-words vectors, for the `openai:<model>` embedder

Each chat completion request takes the next queued reply (FIFO); when the queue is empty the default reply
is used, which by default is a clear HTTP 500 "no scripted reply queued" (set `default_reply` to a text to
be lenient). An `openai` client with max_retries > 0 retries 429/5xx/timeouts and so consumes several
queued replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from testkit.threaded_server import UvicornThread

DEFAULT_MODEL = "scripted"
EMBEDDING_DIM = 256


# ------------------------------------------------------------------------------------------ replies


@dataclass(frozen=True)
class TextReply:
    """An assistant message. Streamed as `tokens` (default: `split_tokens(text)`), one chunk each.

    delay: seconds before the response starts (the status line, or the first stream chunk).
    token_delay: seconds between streamed tokens (stream only).
    """

    text: str
    tokens: Sequence[str] | None = None
    delay: float = 0.0
    token_delay: float = 0.0
    finish_reason: str = "stop"
    model: str | None = None  # default: the model named in the request

    def stream_tokens(self) -> list[str]:
        return list(self.tokens) if self.tokens is not None else split_tokens(self.text)


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with an OpenAI-style body {"error": {"message", "type", "param", "code"}}.
    Sent before any stream starts, as OpenAI does."""

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class BrokenStreamReply:
    """Starts a normal reply (role chunk and `tokens_before` content chunks when streaming, a truncated
    JSON body when not), then breaks it:
      mode="disconnect": the connection is closed abruptly, without the end of the chunked body
                         (clients see an incomplete read: `openai.APIConnectionError`);
      mode="invalid_json": a `data:` event whose payload is not JSON, then the stream ends (no [DONE]).
    """

    tokens_before: Sequence[str] = ("The", " answer", " is")
    mode: Literal["disconnect", "invalid_json"] = "disconnect"
    delay: float = 0.0
    token_delay: float = 0.0


@dataclass(frozen=True)
class GarbageReply:
    """A 2xx response whose body is not what an OpenAI client expects (not JSON / not SSE chunks).
    For stream requests the body is sent as one `data:` event, unless `raw_stream=True`."""

    body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    raw_stream: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class StallReply:
    """A stream that starts promptly and stalls `seconds` after `after_tokens` tokens (a read timeout
    mid-stream); a non-stream request waits `seconds` before the whole reply."""

    text: str
    after_tokens: int
    seconds: float


Reply = TextReply | ErrorReply | BrokenStreamReply | GarbageReply | StallReply
ReplyLike = Reply | str

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_ERROR_MESSAGES = {
    400: "Invalid request (scripted).",
    401: "Incorrect API key provided (scripted).",
    403: "You are not allowed to sample from this model (scripted).",
    404: "The model does not exist or you do not have access to it (scripted).",
    429: "Rate limit reached for requests (scripted).",
    500: "The server had an error while processing your request (scripted).",
    502: "Bad gateway (scripted).",
    503: "The engine is currently overloaded, please try again later (scripted).",
}

_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split like an OpenAI tokenizer roughly does for streaming: words with their leading whitespace.
    ''.join(split_tokens(t)) == t always."""
    return _TOKEN_RE.findall(text)


def _count_tokens(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def _content_text(content: Any) -> str:
    """Text of a message `content`: a string or a list of parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


class _AbortConnection(Exception):
    """Raised inside a response to make uvicorn drop the connection mid-body (not a server bug)."""


def _is_abort(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _AbortConnection):
            return True
        if isinstance(exc, BaseExceptionGroup) and any(_is_abort(e) for e in exc.exceptions):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class _QuietAbort(logging.Filter):
    """Keep uvicorn from logging a traceback for connections the fake drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _is_abort(record.exc_info[1] if record.exc_info else None)


class _AbortMiddleware:
    """Turn `_AbortConnection` into a dropped connection. Uvicorn closes the socket when an app fails
    after the response started, but answers 500 when it fails before; so when nothing was sent yet, send
    the status line and headers of a body that never comes, then fail: the client sees the connection
    close mid-response (APIConnectionError), as with a crashed server."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BaseException as exc:
            if _is_abort(exc) and not started:
                headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise


_QUIET_FILTER = _QuietAbort()
if not any(isinstance(f, _QuietAbort) for f in logging.getLogger("uvicorn.error").filters):
    logging.getLogger("uvicorn.error").addFilter(_QUIET_FILTER)


# ------------------------------------------------------------------------------------------- server


class FakeLLM:
    """The scripted server. Thread-safe: queue from the test thread while the server thread serves."""

    def __init__(self, *, default_reply: ReplyLike | None = None, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._replies: deque[ReplyLike] = deque()
        self._calls: list[tuple[str, Any]] = []  # (path, JSON body) of every request, oldest first
        self._default: ReplyLike | None = default_reply
        self._generation = 0  # bumped by reset()/stop(): pending delays from an earlier test abort
        self._ids = itertools.count(1)
        self.app = self._build_app()
        self._server = UvicornThread(self.app, port=port, lifespan="off", graceful_timeout=2)

    # ---- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as base_url: http://127.0.0.1:<port>/v1."""
        return f"{self._server.url}/v1"

    @property
    def is_up(self) -> bool:
        return self._server.running

    def start(self) -> FakeLLM:
        """Start serving (again, on the same port once one was chosen)."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Take the server down: the port refuses connections (clients get APIConnectionError)."""
        with self._lock:
            self._generation += 1  # in-flight delays and streams abort at once
        self._server.stop()

    @contextlib.contextmanager
    def down(self) -> Iterator[FakeLLM]:
        """`with fake_llm.down(): ...` the server is stopped inside the block and back up after it."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def reset(self) -> None:
        """Forget queued replies and recorded requests; abort replies still being delayed from earlier
        requests. The default reply stays (`set_default_reply(None)` restores the strict one)."""
        with self._lock:
            self._replies.clear()
            self._calls.clear()
            self._generation += 1

    # ---- scripting -----------------------------------------------------------------------------

    def queue(self, *replies: ReplyLike) -> FakeLLM:
        """Queue replies (FIFO) for the next chat completion requests. A `str` is a TextReply."""
        with self._lock:
            self._replies.extend(replies)
        return self

    def queue_text(
        self,
        text: str,
        *,
        tokens: Sequence[str] | None = None,
        delay: float = 0.0,
        token_delay: float = 0.0,
        finish_reason: str = "stop",
    ) -> FakeLLM:
        if tokens is not None and "".join(tokens) != text:
            raise ValueError(f"tokens {list(tokens)!r} do not join to the text {text!r}")
        return self.queue(TextReply(text, tokens, delay, token_delay, finish_reason))

    def queue_tokens(self, tokens: Sequence[str], *, token_delay: float = 0.0, delay: float = 0.0) -> FakeLLM:
        return self.queue(TextReply("".join(tokens), list(tokens), delay, token_delay))

    def queue_error(
        self,
        status: int = 500,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> FakeLLM:
        return self.queue(ErrorReply(status, message, type, code, dict(headers or {}), delay))

    def queue_delay(self, seconds: float, text: str = "This reply came too late.") -> FakeLLM:
        """Wait `seconds` before answering at all (longer than the client's timeout: APITimeoutError)."""
        return self.queue(TextReply(text, delay=seconds))

    def queue_stall(self, text: str, after_tokens: int, seconds: float) -> FakeLLM:
        """Stream starts promptly, then stalls `seconds` after `after_tokens` tokens (a read timeout
        mid-stream). Non-stream requests simply wait `seconds`."""
        return self.queue(StallReply(text, after_tokens, seconds))

    def queue_broken_stream(
        self,
        tokens_before: Sequence[str] = ("The", " answer", " is"),
        mode: Literal["disconnect", "invalid_json"] = "disconnect",
    ) -> FakeLLM:
        return self.queue(BrokenStreamReply(tuple(tokens_before), mode))

    def queue_garbage(
        self,
        body: str = GarbageReply.body,
        *,
        content_type: str = GarbageReply.content_type,
        status: int = 200,
    ) -> FakeLLM:
        return self.queue(GarbageReply(body, status, content_type))

    def set_default_reply(self, reply: ReplyLike | None) -> FakeLLM:
        """Reply used when the queue is empty; None restores the strict 500 'no scripted reply queued'."""
        with self._lock:
            self._default = reply
        return self

    # ---- inspection ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat completion requests received, oldest first (recorded on arrival)."""
        with self._lock:
            return [body for path, body in self._calls if path.endswith("/chat/completions")]

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [body for path, body in self._calls if path.endswith("/embeddings")]

    def _messages(self, index: int) -> list[dict[str, Any]]:
        reqs = self.requests
        if not reqs:
            raise AssertionError("the fake LLM has received no chat completion request")
        return list(reqs[index].get("messages", []))

    def prompt_text(self, index: int = -1) -> str:
        """All message contents of a chat request joined with blank lines: handy for `in` assertions."""
        return "\n\n".join(_content_text(m.get("content")) for m in self._messages(index))

    def system_message(self, index: int = -1) -> str:
        return "\n\n".join(
            _content_text(m.get("content")) for m in self._messages(index) if m.get("role") in ("system", "developer")
        )

    def last_user_message(self, index: int = -1) -> str:
        users = [m for m in self._messages(index) if m.get("role") == "user"]
        return _content_text(users[-1].get("content")) if users else ""

    # ---- internals -----------------------------------------------------------------------------

    def _record(self, request: Request, body: Any) -> int:
        with self._lock:
            self._calls.append((request.url.path, body))
            return self._generation

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            reply: ReplyLike | None = self._replies.popleft() if self._replies else self._default
        if reply is None:
            last_user = ""
            for m in reversed(body.get("messages") or []):
                if isinstance(m, dict) and m.get("role") == "user":
                    last_user = _content_text(m.get("content"))[:200]
                    break
            return ErrorReply(
                500,
                "fake LLM: no scripted reply queued for this chat completion request "
                f"(queue one with fake_llm.queue_text(...); last user message: {last_user!r})",
                type="server_error",
                code="no_scripted_reply",
            )
        if isinstance(reply, str):
            return TextReply(reply)
        return reply

    async def _sleep(self, seconds: float, generation: int) -> None:
        """Sleep, but give up (drop the connection) if the fake is reset or stopped meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            if self._generation != generation:
                raise _AbortConnection("fake LLM reset or stopped while a reply was delayed")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="scripted OpenAI-compatible LLM", docs_url=None, redoc_url=None, openapi_url=None)
        app.add_middleware(_AbortMiddleware)
        fake = self

        @app.get("/v1/models")
        async def list_models(request: Request) -> Response:
            fake._record(request, None)
            model = {"id": DEFAULT_MODEL, "object": "model", "created": 1_700_000_000, "owned_by": "newsrag-tests"}
            return JSONResponse({"object": "list", "data": [model]})

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                fake._record(request, raw.decode("utf-8", "replace"))
                return _error_response(ErrorReply(400, "We could not parse the JSON body of your request."))
            generation = fake._record(request, body)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
                return _error_response(ErrorReply(400, "'messages' is a required property", code="invalid_value"))
            reply = fake._next_reply(body)
            stream = bool(body.get("stream"))
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await fake._respond(reply, body, stream, include_usage, generation)

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                return _error_response(ErrorReply(400, "We could not parse the JSON body of your request."))
            fake._record(request, body)
            return _embeddings_response(body)

        return app

    async def _respond(
        self, reply: Reply, body: dict[str, Any], stream: bool, include_usage: bool, generation: int
    ) -> Response:
        if isinstance(reply, ErrorReply):
            await self._sleep(reply.delay, generation)
            return _error_response(reply)
        if isinstance(reply, GarbageReply):
            await self._sleep(reply.delay, generation)
            if stream and not reply.raw_stream:
                payload = f"data: {reply.body}\n\n".encode()
                return Response(payload, status_code=reply.status, media_type="text/event-stream")
            return Response(reply.body.encode(), status_code=reply.status, media_type=reply.content_type)

        completion_id = f"chatcmpl-scripted{next(self._ids):06d}"
        model = (reply.model if isinstance(reply, TextReply) else None) or str(body.get("model") or DEFAULT_MODEL)
        prompt_tokens = sum(
            _count_tokens(_content_text(m.get("content"))) for m in body["messages"] if isinstance(m, dict)
        )

        if isinstance(reply, BrokenStreamReply):
            await self._sleep(reply.delay, generation)
            if stream:
                gen = self._broken_stream(reply, completion_id, model, include_usage, generation)
                return StreamingResponse(gen, media_type="text/event-stream", headers=_SSE_HEADERS)
            return StreamingResponse(self._broken_body(reply, completion_id, model), media_type="application/json")

        if isinstance(reply, StallReply):
            text_reply = TextReply(reply.text)
            if not stream:
                await self._sleep(reply.seconds, generation)
                return JSONResponse(_completion(completion_id, model, text_reply, prompt_tokens))
            gen = self._text_stream(text_reply, completion_id, model, include_usage, prompt_tokens, generation, reply)
            return StreamingResponse(gen, media_type="text/event-stream", headers=_SSE_HEADERS)

        await self._sleep(reply.delay, generation)
        if not stream:
            return JSONResponse(_completion(completion_id, model, reply, prompt_tokens))
        gen = self._text_stream(reply, completion_id, model, include_usage, prompt_tokens, generation)
        return StreamingResponse(gen, media_type="text/event-stream", headers=_SSE_HEADERS)

    async def _text_stream(
        self,
        reply: TextReply,
        completion_id: str,
        model: str,
        include_usage: bool,
        prompt_tokens: int,
        generation: int,
        stall: StallReply | None = None,
    ) -> AsyncIterator[bytes]:
        created = int(time.time())
        tokens = reply.stream_tokens()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _sse(_chunk(completion_id, created, model, delta, finish, include_usage))

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for i, token in enumerate(tokens):
            if stall is not None and i == stall.after_tokens:
                await self._sleep(stall.seconds, generation)
            elif i and reply.token_delay:
                await self._sleep(reply.token_delay, generation)
            yield chunk({"content": token})
        yield chunk({}, reply.finish_reason)
        if include_usage:
            usage = _usage(prompt_tokens, len(tokens))
            final = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_scripted",
                "choices": [],
                "usage": usage,
            }
            yield _sse(final)
        yield b"data: [DONE]\n\n"

    async def _broken_stream(
        self, reply: BrokenStreamReply, completion_id: str, model: str, include_usage: bool, generation: int
    ) -> AsyncIterator[bytes]:
        created = int(time.time())
        yield _sse(_chunk(completion_id, created, model, {"role": "assistant", "content": ""}, None, include_usage))
        for i, token in enumerate(reply.tokens_before):
            if i and reply.token_delay:
                await self._sleep(reply.token_delay, generation)
            yield _sse(_chunk(completion_id, created, model, {"content": token}, None, include_usage))
        if reply.mode == "invalid_json":
            yield (b'data: {"id": "' + completion_id.encode() + b'", "object": "chat.completion.chunk", "choi\n\n')
            return
        await asyncio.sleep(0.05)  # let the chunks above reach the client before the connection drops
        raise _AbortConnection("scripted broken stream")

    async def _broken_body(self, reply: BrokenStreamReply, completion_id: str, model: str) -> AsyncIterator[bytes]:
        full = json.dumps(_completion(completion_id, model, TextReply("".join(reply.tokens_before)), 0))
        yield full[: len(full) // 2].encode()
        if reply.mode == "invalid_json":
            return  # a complete HTTP body that is truncated JSON
        await asyncio.sleep(0.05)
        raise _AbortConnection("scripted broken body")


# ------------------------------------------------------------------------------------- wire format

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion(completion_id: str, model: str, reply: TextReply, prompt_tokens: int) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": _usage(prompt_tokens, len(reply.stream_tokens())),
        "service_tier": "default",
        "system_fingerprint": "fp_scripted",
    }


def _chunk(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None,
    include_usage: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if include_usage:
        out["usage"] = None
    return out


def _error_response(reply: ErrorReply) -> JSONResponse:
    default_type, default_code = _ERROR_TYPES.get(
        reply.status, ("server_error" if reply.status >= 500 else "invalid_request_error", None)
    )
    message = reply.message or _ERROR_MESSAGES.get(reply.status, f"Scripted error {reply.status}.")
    error = {
        "message": message,
        "type": reply.type or default_type,
        "param": None,
        "code": reply.code or default_code,
    }
    return JSONResponse({"error": error}, status_code=reply.status, headers=dict(reply.headers))


def _embeddings_response(body: Any) -> Response:
    """Float vectors (the `openai` client asks for base64 but takes floats as they come)."""
    inputs = body.get("input") if isinstance(body, dict) else None
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        return _error_response(ErrorReply(400, "'input' must be a non-empty string or array of strings"))
    data = [{"object": "embedding", "index": i, "embedding": hashed_embedding(t)} for i, t in enumerate(inputs)]
    tokens = sum(max(1, _count_tokens(t)) for t in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": str(body.get("model")), "usage": usage})


def hashed_embedding(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """Deterministic unit vector: signed feature hashing of lower-cased words (texts sharing words are
    close, identical texts identical), so retrieval through an `openai:<model>` embedder is testable."""
    vector = [0.0] * dim
    words = re.findall(r"\w+", text.lower()) or [text]
    for word in words:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        h = int.from_bytes(digest, "little")
        vector[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # words cancelled out: fall back to one hashed coordinate
        vector[int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") % dim] = 1.0
        return vector
    return [v / norm for v in vector]
