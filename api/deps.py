"""What routes depend on: the services built once by the lifespan, and API-key checks.

Blocking work (the embedding model, Chroma, SQLite, the LLM client) never runs on the event loop:
routes call `run_in_threadpool` for it, and `Services.connect` opens the store in a worker thread.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.metrics import Metrics
from rag.chain import NewsQA, make_qa
from rag.embeddings import Embedder, make_embedder
from rag.errors import Forbidden, StoreUnavailable, Unauthorized
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store

log = logging.getLogger("newsrag.api")
T = TypeVar("T")


class Services:
    """The embedder, the store and the chain, built once per process.

    The store is opened at start-up; if it cannot be reached then (a Chroma server still starting),
    the API starts anyway, answers 503 and /readyz says why, and each request tries to open it again.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.metrics = Metrics()
        self.ingest_lock = threading.Lock()  # one ingest at a time per process: writes are batched anyway
        self._lock = threading.Lock()
        self._qa: NewsQA | None = None

    # ---- lifecycle (blocking: call in a worker thread) ----
    def start(self) -> None:
        if self.embedder is None:
            self.embedder = make_embedder(self.settings)
        self.embedder.embed_query("warm up")  # load the model now, not on the first question
        try:
            self.connect()
        except StoreUnavailable as exc:
            log.warning("store not reachable at start-up, will retry on each request: %s", exc.message)

    def connect(self) -> NewsQA:
        with self._lock:
            if self._qa is None:
                assert self.embedder is not None, "Services.start() first"
                store = make_store(self.settings, self.embedder.name)
                runtime = Runtime(settings=self.settings, embedder=self.embedder, store=store)
                self._qa = make_qa(runtime)
            return self._qa

    def close(self) -> None:
        with self._lock:
            if self._qa is not None:
                self._qa.close()
                self._qa.runtime.close()
                self._qa = None

    @property
    def connected(self) -> NewsQA | None:
        return self._qa


def services(request: Request) -> Services:
    return request.app.state.services


async def get_qa(request: Request) -> NewsQA:
    """The chain, opening the store first if start-up could not (StoreUnavailable -> 503)."""
    svc = services(request)
    qa = svc.connected
    if qa is not None:
        return qa
    return await run_in_threadpool(svc.connect)


# ---------------------------------------------------------------------------------------- API keys


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def _matches(key: str, keys: list[str]) -> bool:
    """Constant-time against every configured key (no early exit that would time which one matched)."""
    given = key.encode()
    found = False
    for candidate in keys:
        found |= hmac.compare_digest(given, candidate.encode())
    return found


def require_reader(request: Request) -> None:
    """Reading endpoints: open unless NEWSRAG_API_KEYS is set; admin keys read too."""
    settings = services(request).settings
    if not settings.api_keys:
        return
    key = presented_key(request)
    if key is None:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
    if not _matches(key, [*settings.api_keys, *settings.admin_keys]):
        raise Unauthorized("the API key is not valid")


def require_writer(request: Request) -> None:
    """Writing endpoints: an admin key when NEWSRAG_ADMIN_KEYS is set, else what reading needs."""
    settings = services(request).settings
    if not settings.admin_keys:
        require_reader(request)
        return
    key = presented_key(request)
    if key is None:
        raise Unauthorized("an admin API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
    if _matches(key, settings.admin_keys):
        return
    if _matches(key, settings.api_keys):
        raise Forbidden("this API key may read but not write: writing needs an admin key")
    raise Unauthorized("the API key is not valid")


# ----------------------------------------------------------------------------- sync iterators, async

_END = object()


async def iterate_off_loop(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Each `next()` of a blocking iterator runs in a worker thread; the loop stays free meanwhile.
    The iterator is closed however the consumer stops (end, error or a client that went away)."""
    try:
        while True:
            item: Any = await run_in_threadpool(next, iterator, _END)
            if item is _END:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            with suppress(Exception):
                close()
