"""The one place that turns errors into HTTP responses: `{"error": {"type", "message"[, "field"]}}`.

Routes raise members of the newsrag error family (rag/errors.py) and never HTTPException for domain
errors; FastAPI's own validation errors and Starlette's 404/405 come through here too, so every error a
client sees has the same shape. Anything else is a 500 that names no internals: the traceback goes to
the server log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    ConfigError,
    EmbeddingError,
    Forbidden,
    InvalidInput,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    NewsragError,
    NotFound,
    PayloadTooLarge,
    StoreUnavailable,
    Unauthorized,
)

log = logging.getLogger("newsrag.api")

# Most specific first: the first isinstance match wins.
STATUS: tuple[tuple[type[NewsragError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (PayloadTooLarge, 413),
    (Unauthorized, 401),
    (Forbidden, 403),
    (StoreUnavailable, 503),
    (LLMTimeout, 504),
    (LLMUnavailable, 502),
    (LLMError, 502),
    (EmbeddingError, 502),
    (ConfigError, 500),
)

_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 406: "not_acceptable", 415: "unsupported_media_type"}


def status_of(exc: NewsragError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(type_: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type_, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def describe(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status and body for any exception; the stream endpoints use it for their `error` events."""
    if isinstance(exc, NewsragError):
        return status_of(exc), error_body(exc.type, exc.message, getattr(exc, "field", None))
    if isinstance(exc, RequestValidationError):
        return 422, _validation_body(exc)
    if isinstance(exc, StarletteHTTPException) and exc.status_code == 400:  # an unreadable body (bad UTF-8)
        return 422, error_body("invalid_input", "the request body is not valid JSON in UTF-8", "body")
    if isinstance(exc, StarletteHTTPException):
        type_ = _HTTP_TYPES.get(exc.status_code, "http_error")
        return exc.status_code, error_body(type_, str(exc.detail))
    return 500, error_body("internal_error", "The server failed to handle this request; it has been logged.")


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    errors = list(exc.errors())
    if not errors:
        return error_body("invalid_input", "invalid request")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return error_body("invalid_input", "the request body is not valid JSON", "body")
    loc = [str(part) for part in first.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header"):
        loc = loc[1:]
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid value"))
    if field:
        message = f"{field}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_body("invalid_input", message, field)


# OpenAI's clients and chat UIs read errors on these paths in OpenAI's own shape.
OPENAI_PATHS = ("/v1/chat/", "/v1/models")
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """`{"error": {message, type, param, code}}`: invalid input is a 400 there, an unknown model a 404
    `model_not_found`, a failure upstream a `server_error` with our own type as its code."""
    error = body["error"]
    status = 400 if status == 422 else status
    code = {404: "model_not_found", 401: "invalid_api_key"}.get(status, error["type"])
    type_ = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return status, {"error": {"message": error["message"], "type": type_, "param": error.get("field"), "code": code}}


def describe_for(path: str, exc: BaseException) -> tuple[int, dict[str, Any]]:
    """`describe`, in OpenAI's shape on the OpenAI-compatible paths."""
    status, body = describe(exc)
    return openai_error(status, body) if path.startswith(OPENAI_PATHS) else (status, body)


def error_response(exc: BaseException, headers: dict[str, str] | None = None, path: str = "") -> JSONResponse:
    status, body = describe_for(path, exc)
    if isinstance(exc, Unauthorized):
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    if isinstance(exc, StarletteHTTPException) and exc.headers:
        headers = {**(headers or {}), **exc.headers}
    return JSONResponse(body, status_code=status, headers=headers)


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """The one exception handler (registered for the error family, validation, HTTP and everything)."""
    status, _ = describe(exc)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.count_error(exc)
    if status >= 500:
        if isinstance(exc, NewsragError):
            log.warning("%s %s -> %d %s: %s", request.method, request.url.path, status, exc.type, exc.message)
        else:
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(exc, path=request.url.path)


def install(app: FastAPI) -> None:
    for kind in (NewsragError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handle_error)
