"""Prometheus metrics (prometheus-client), one registry per app so several apps can live in one process.

Exposed at GET /metrics. `newsrag serve --workers N` runs prometheus_client's multiprocess mode: the
workers write their samples to files in PROMETHEUS_MULTIPROC_DIR (set by `serve`, emptied when it
starts), and whichever worker answers /metrics reports the sum over all of them. With several hosts,
scrape each host.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from rag.errors import LLMError, NewsragError
from rag.models import Answer

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGES = ("condense", "retrieve", "answer", "verify")  # keys of Answer.timings_ms, in the order they run
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch, read when it is imported


@contextmanager
def multiprocess_metrics() -> Iterator[Path]:
    """For `serve --workers N`: a samples folder for the workers, set in the environment they inherit.
    An operator's PROMETHEUS_MULTIPROC_DIR is used and emptied first (samples of dead processes would add
    up forever); otherwise a temporary folder, removed afterwards."""
    given = os.environ.get(MULTIPROC_ENV)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="newsrag-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "newsrag_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsrag_http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ingested = Counter(
            "newsrag_ingested_articles",
            "Articles sent to POST /v1/articles, by outcome.",
            ["result"],
            registry=self.registry,
        )
        self.llm_errors = Counter(
            "newsrag_llm_errors",
            "Failures of the LLM endpoint, by error type.",
            ["type"],
            registry=self.registry,
        )
        self.errors = Counter(
            "newsrag_errors", "Errors returned to clients, by error type.", ["type"], registry=self.registry
        )
        self.answers = Counter(
            "newsrag_answers",
            "Answers given, by answerer and whether they refused.",
            ["mode", "refused"],
            registry=self.registry,
        )
        self.stage_latency = Histogram(
            "newsrag_answer_stage_duration_seconds",
            "Time an answer spent in each stage: condense (follow-ups only), retrieve, answer, verify.",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def count_answer(self, answer: Answer) -> None:
        self.answers.labels(answer.mode, str(answer.refused).lower()).inc()
        for stage in STAGES:
            if stage in answer.timings_ms:
                self.stage_latency.labels(stage).observe(answer.timings_ms[stage] / 1000)

    def count_error(self, exc: BaseException) -> None:
        kind = exc.type if isinstance(exc, NewsragError) else "internal_error"
        if type(exc).__name__ == "RequestValidationError":
            kind = "invalid_input"
        self.errors.labels(kind).inc()
        if isinstance(exc, LLMError):
            self.llm_errors.labels(exc.type).inc()

    def count_ingest(self, added: int, updated: int, unchanged: int, duplicates: int, failed: int) -> None:
        for result, n in (
            ("added", added),
            ("updated", updated),
            ("unchanged", unchanged),
            ("duplicate", duplicates),
            ("failed", failed),
        ):
            if n:
                self.ingested.labels(result).inc(n)

    def exposition(self) -> tuple[bytes, str]:
        """This process's samples, or, in multiprocess mode, the sum over every worker's."""
        if os.environ.get(MULTIPROC_ENV):
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI: counts every HTTP request by route template (not raw path) and status, and its
    duration until the last byte of the response (so a stream counts until it ends)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or ("static" if scope["path"].startswith("/static") else "unmatched")
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - started)
