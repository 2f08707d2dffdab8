"""GET /healthz (alive), GET /readyz (store and, if configured, the LLM reachable), GET /metrics.
Always open, API keys or not."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import Services, services
from api.schemas import Check, Health, Readiness
from rag.errors import NewsragError

router = APIRouter(tags=["health"])

LLM_CHECK_TIMEOUT = 2.0


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


def _store_check(svc: Services) -> Check:
    try:
        qa = svc.connect()
        store = qa.runtime.store
        store.vectors.heartbeat()
        articles = store.catalog.count()
    except NewsragError as exc:
        return Check(ok=False, detail=exc.message)
    except Exception as exc:
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return Check(ok=True, detail=f"{store.vectors.mode} Chroma at {store.vectors.location}, {articles} articles")


async def _llm_check(svc: Services) -> Check:
    settings = svc.settings
    base = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/")
    headers = {}
    if settings.openai_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.openai_api_key.get_secret_value()}"
    try:
        async with httpx.AsyncClient(timeout=LLM_CHECK_TIMEOUT, trust_env=False) as client:
            response = await client.get(f"{base}/models", headers=headers)
    except httpx.HTTPError as exc:
        return Check(ok=False, detail=f"cannot reach the LLM endpoint {base}: {type(exc).__name__}")
    if response.status_code >= 500 or response.status_code in (401, 403):
        return Check(ok=False, detail=f"the LLM endpoint {base} answered HTTP {response.status_code}")
    return Check(ok=True, detail=f"LLM endpoint {base} answered HTTP {response.status_code}")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready to answer: the store answers and, if an LLM is configured, it answers too",
    responses={503: {"model": Readiness, "description": "A dependency is down; `checks` says which."}},
)
async def readyz(request: Request) -> Response:
    svc = services(request)
    checks = {"store": await run_in_threadpool(_store_check, svc)}
    if svc.settings.use_llm:
        checks["llm"] = await _llm_check(svc)
    ready = all(c.ok for c in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def metrics(request: Request) -> Response:
    data, content_type = services(request).metrics.exposition()
    return Response(data, media_type=content_type)
