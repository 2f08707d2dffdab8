"""The service's error family: every failure a user can cause or meet while ingesting, asking or serving
is a NewsragError subclass. (The eval harness's own usage errors, EvalError and SuiteError in evals/, are
plain ValueErrors that `newsrag eval` reports itself.)

The API maps these to HTTP status codes in exactly one place (api/errors.py); the CLI (`main` in
api/cli.py and evals/cli.py) maps them to exit codes. Nothing else needs to know how an error is shown.
"""

from __future__ import annotations


class NewsragError(Exception):
    """Base of every error newsrag raises on purpose."""

    type: str = "newsrag_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(NewsragError):
    """Settings that cannot work (unknown embedder, bad URL, missing model)."""

    type = "config_error"


class InvalidInput(NewsragError):
    """A request or article that is malformed; `field` names what is wrong when known."""

    type = "invalid_input"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ArticleInvalid(InvalidInput):
    """One article failed validation; the rest of its batch goes on."""

    type = "article_invalid"


class NotFound(NewsragError):
    type = "not_found"


class PayloadTooLarge(NewsragError):
    type = "payload_too_large"


class StoreUnavailable(NewsragError):
    """Chroma (embedded or server) cannot be reached or answered with an error."""

    type = "store_unavailable"


class EmbedderMismatch(ConfigError):
    """The collection was built with another embedder; mixing vectors would give nonsense."""

    type = "embedder_mismatch"


class EmbeddingError(NewsragError):
    """The embedding model or endpoint failed."""

    type = "embedding_error"


class LLMError(NewsragError):
    """The configured LLM endpoint failed or answered garbage."""

    type = "llm_error"


class LLMUnavailable(LLMError):
    """The LLM endpoint could not be reached or returned a server error."""

    type = "llm_unavailable"


class LLMTimeout(LLMError):
    type = "llm_timeout"


class Unauthorized(NewsragError):
    type = "unauthorized"


class Forbidden(NewsragError):
    type = "forbidden"
