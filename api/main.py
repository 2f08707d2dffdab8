"""The HTTP API: `create_app(settings)`.

    newsrag serve [--host H] [--port P] [--workers N]

The lifespan builds the embedder, the store and the chain once per process (in a worker thread: loading
the model and opening Chroma block) and closes them on shutdown. Routes live in api/routes/, the one
error handler in api/errors.py, the request and response bodies in api/schemas.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api import errors
from api.deps import Services
from api.metrics import MetricsMiddleware
from api.routes import articles, ask, chat, health, jobs, sources
from rag.embeddings import Embedder
from rag.errors import PayloadTooLarge
from rag.settings import Settings, prepare_environment

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("newsrag.api")

DESCRIPTION = """Question answering over news articles, with verified citations to article, outlet,
date and quote.

* `POST /v1/ask` answers with an `Answer`; `POST /v1/ask/stream` streams it as server-sent events.
* `POST /v1/chat/completions` and `GET /v1/models` speak the OpenAI API (model `newsrag`): point any
  OpenAI-compatible chat UI here. Citations come as a `Sources:` list in the content and a `citations`
  field.
* `/v1/articles` ingests, lists, shows and deletes articles.

Errors are always `{"error": {"type", "message"}}` (and `field` for invalid input). When API keys are
configured send `Authorization: Bearer KEY` or `X-API-Key: KEY`; writing may need an admin key.
"""


class BodyLimitMiddleware:
    """413 for a request body over `limit` bytes: at once when Content-Length says so, else while
    counting the bytes actually received (chunked uploads). The body is read here, up to the limit,
    and handed to the app unchanged."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await self._refuse(scope, receive, send, f"{declared:,} bytes")
                    return
        messages: list[dict[str, Any]] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                messages.append(message)
                break
            total += len(message.get("body", b""))
            if total > self.limit:
                await self._refuse(scope, receive, send, f"more than {self.limit:,} bytes")
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Any, receive: Any, send: Any, size: str) -> None:
        response = errors.error_response(
            PayloadTooLarge(f"the request body has {size}; the limit is {self.limit:,} bytes"),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """The app. `embedder` lets tests share one loaded model among several apps."""
    settings = settings or Settings()
    svc = Services(settings, embedder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(svc.start)
        qa = svc.connected
        log.info(
            "newsrag API ready: answerer %s, store %s",
            qa.mode if qa else "-",
            qa.runtime.store.vectors.location if qa else "not reachable yet",
        )
        try:
            yield
        finally:
            await run_in_threadpool(svc.close)

    app = FastAPI(
        title="newsrag",
        version="0.1.0",
        summary="Cited answers over news articles.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.metrics = svc.metrics
    errors.install(app)
    for module in (ask, chat, articles, sources, jobs, health):
        app.include_router(module.router)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    # Added last = outermost: metrics see every request, CORS answers preflights before the size check.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["*"],  # browser SDKs send their own (x-stainless-*): the preflight echoes them
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=svc.metrics)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory api.main:app_factory` (each worker process builds its own app from the
    environment: NEWSRAG_* variables and .env)."""
    prepare_environment()
    return create_app(Settings())
