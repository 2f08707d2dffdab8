"""The one Settings object. Entry points (CLI, API lifespan, eval runner) build it and pass it down."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from rag.errors import ConfigError


def _comma_list(value: Any) -> Any:
    """`a,b` (as README documents) or a JSON list `["a", "b"]`, from the environment or `.env`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)  # a ValueError here is reported as an invalid setting
    return [part.strip() for part in text.split(",") if part.strip()]


# NoDecode: pydantic-settings would otherwise parse list values as JSON before any validator runs.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSRAG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # --- storage ---
    data_dir: Path = Field(Path(".newsrag"), description="Folder for embedded Chroma and the catalog.")
    chroma_url: str | None = Field(None, description="Chroma server URL; unset means embedded Chroma.")
    collection: str = Field("newsrag", min_length=3, max_length=63)
    catalog_url: str | None = Field(
        None,
        description="PostgreSQL URL (postgresql://user:password@host:port/db) for the catalog and keyword index, "
        "shared by several API hosts; unset keeps them in a SQLite file in the data folder.",
    )

    # --- embeddings ---
    embedder: str = Field(
        "local",
        description="'local' (bundled all-MiniLM-L6-v2), a sentence-transformers folder, or 'openai:<model>'.",
    )
    embed_batch_size: int = Field(64, ge=1, le=4096)
    model_cache: Path = Field(
        Path.home() / ".cache" / "newsrag",
        description="Folder for the bundled model's ONNX graph, exported once from its weights.",
    )

    @field_validator("model_cache", mode="after")
    @classmethod
    def _home(cls, value: Path) -> Path:
        return value.expanduser()

    embed_device: str = "cpu"
    torch_threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Threads torch uses within one operation (process-wide). Unset: 1 when answers come from "
        "an LLM (the work before the first token is one short question, which embeds no faster on more "
        "threads, and the keyword search runs beside it), else torch's default of all cores (extractive "
        "answers embed dozens of sentences per question).",
    )

    # --- chunking and validation ---
    chunk_size: int = Field(200, ge=32, le=8192, description="Maximum tokens per chunk, title included.")
    chunk_overlap: int = Field(40, ge=0, le=1024, description="Tokens of trailing sentences repeated.")
    max_article_chars: int = Field(500_000, ge=1_000)

    # --- retrieval ---
    retrieval_mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    top_k: int = Field(8, ge=1, le=50)
    max_chunks_per_article: int = Field(2, ge=1, le=20)

    # --- answering ---
    answerer: Literal["auto", "extractive", "openai"] = Field(
        "auto", description="'auto' uses the LLM when NEWSRAG_LLM_MODEL is set, else extractive."
    )
    llm_model: str | None = None
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NEWSRAG_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("NEWSRAG_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(1, ge=0, le=10)
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(600, ge=16, le=32_000, description="Cap on answer length.")

    # --- API ---
    api_keys: CommaList = Field(default_factory=list)
    admin_keys: CommaList = Field(default_factory=list)
    cors_origins: CommaList = Field(default_factory=list)
    max_question_chars: int = Field(2_000, ge=10)
    max_k: int = Field(50, ge=1)
    max_body_bytes: int = Field(5_000_000, ge=1_000)
    max_articles_per_request: int = Field(500, ge=1)

    # --- fetching from the web (ingest/fetch.py) ---
    fetch_timeout: float = Field(10.0, gt=0, le=300, description="Seconds to connect, and between bytes read.")
    fetch_max_bytes: int = Field(10_000_000, ge=10_000, description="Larger responses are refused (sitemaps run big).")
    fetch_user_agent: str = Field("newsrag/0.1 (+news question answering; robots.txt honoured)", min_length=3)
    fetch_allow_private: bool = Field(
        False, description="Allow URLs that resolve to loopback, private, link-local or metadata addresses."
    )
    fetch_per_host_concurrency: int = Field(2, ge=1, le=32, description="Requests in flight per host.")
    fetch_per_host_delay: float = Field(0.5, ge=0, le=60, description="Seconds between request starts per host.")
    retention_days: int | None = Field(
        None, ge=1, description="When set, `watch` prunes articles published longer ago and skips them in feeds."
    )

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / f"catalog-{self.collection}.sqlite3"

    @property
    def web_state_path(self) -> Path:
        """Watched sources and the per-URL HTTP cache: a file of its own beside the catalog."""
        return self.data_dir / f"web-{self.collection}.sqlite3"

    @property
    def use_llm(self) -> bool:
        if self.answerer == "auto":
            return bool(self.llm_model)
        return self.answerer == "openai"

    @property
    def effective_torch_threads(self) -> int | None:
        """None leaves torch's own default."""
        if self.torch_threads is not None:
            return self.torch_threads
        return 1 if self.use_llm else None


def env_names(field: str) -> str:
    """The environment variable(s) a field is read from, for error messages."""
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        return " or ".join(str(choice) for choice in info.validation_alias.choices)
    return f"NEWSRAG_{field.upper()}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `.env`, or ConfigError with one line naming each bad variable
    (entry points show it and exit; never a traceback)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            shown = "" if "key" in field else f"={error.get('input')!r}"  # never echo a secret
            problems.append(f"{env_names(field)}{shown}: {error['msg']}")
        raise ConfigError("invalid setting " + "; ".join(problems)) from None
    except SettingsError as exc:  # a value pydantic-settings itself could not read
        raise ConfigError(f"invalid setting: {exc}") from None


def prepare_environment() -> None:
    """Keep the product offline: no model hub lookups, no telemetry. Called by entry points only."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(key, value)
