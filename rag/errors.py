"""The service's error family: every failure a user can cause or meet while ingesting, asking or serving
is a NewsragError subclass. (The eval harness's own usage errors, EvalError and SuiteError in evals/, are
plain ValueErrors that `newsrag eval` reports itself.)

The API maps these to HTTP status codes in exactly one place (api/errors.py); both command lines
(api/cli.py, evals/cli.py) run their commands through `run_command` below, which maps them to exit codes.
Nothing else needs to know how an error is shown.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    """'PayloadTooLarge' -> 'payload_too_large', 'LLMTimeout' -> 'llm_timeout'."""
    return _WORD_START.sub("_", name).lower()


class NewsragError(Exception):
    """Base of every error newsrag raises on purpose. Its `type`, what clients see in error bodies and
    metrics, is the class name in snake_case: a new error is a subclass and a docstring, nothing more."""

    type: str = "newsrag_error"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.type = _snake(cls.__name__)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(NewsragError):
    """Settings that cannot work (unknown embedder, bad URL, missing model)."""


class InvalidInput(NewsragError):
    """A request or article that is malformed; `field` names what is wrong when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ArticleInvalid(InvalidInput):
    """One article failed validation; the rest of its batch goes on."""


class NotFound(NewsragError):
    """No article, job, watched source or model by that name."""


class PayloadTooLarge(NewsragError):
    """More articles in one request than the configured limit."""


class StoreUnavailable(NewsragError):
    """Chroma (embedded or server) cannot be reached or answered with an error."""


class EmbedderMismatch(ConfigError):
    """The collection was built with another embedder; mixing vectors would give nonsense."""


class EmbeddingError(NewsragError):
    """The embedding model or endpoint failed."""


class LLMError(NewsragError):
    """The configured LLM endpoint failed or answered garbage."""


class LLMUnavailable(LLMError):
    """The LLM endpoint could not be reached or returned a server error."""


class LLMTimeout(LLMError):
    """The LLM endpoint did not answer in time (NEWSRAG_LLM_TIMEOUT)."""


class Unauthorized(NewsragError):
    """No API key, or one the server does not know."""


class Forbidden(NewsragError):
    """A known key that may not do this (a reader key writing; watching sources without an admin key)."""


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
