"""The service's error family: every failure a user can cause or meet while ingesting, asking or serving
is a NewsragError subclass. (The eval harness's own usage errors, EvalError and SuiteError in evals/, are
plain ValueErrors that `newsrag eval` reports itself.)

The API maps these to HTTP status codes in exactly one place (api/errors.py); both command lines
(api/cli.py, evals/cli.py) run their commands through `run_command` below, which maps them to exit codes.
Nothing else needs to know how an error is shown.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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


def run_command(command: Callable[[], int]) -> int:
    """A CLI command's exit code: its own, or 2 for a usage or configuration error and 1 for any other
    error of the family, shown as one line on stderr (never a traceback); 130 on Ctrl-C."""
    try:
        return int(command())
    except (ConfigError, InvalidInput) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except NewsragError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
