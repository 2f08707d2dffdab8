"""The API over a real Chroma server: 503 while it is down, recovery when it is back, and two API
processes (`newsrag serve`, one of them with --workers 2) sharing one Chroma server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rag.embeddings import Embedder
from rag.settings import Settings
from tests.api.conftest import assert_answer_valid, serving
from tests.support.chroma_server import (  # noqa: F401 - fixtures used by name
    ChromaServer,
    chroma_server,
    start_chroma_server,
)
from tests.support.servers import ManagedProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BRIDGE = {
    "title": "City council approves new harbour bridge",
    "body": "The city council of Northport approved a new harbour bridge on Monday at a cost of $2 billion. "
    "Construction is expected to start next spring and take four years.",
    "url": "https://example.test/bridge",
    "source": "Harbour Herald",
    "published_at": "2025-03-03",
}
FERRY = {
    "title": "Ferry service extended to midnight",
    "body": "The ferry between Northport and the islands will run until midnight from May, the operator said, "
    "after a rise in evening passengers.",
    "url": "https://example.test/ferry",
    "source": "Island Times",
    "published_at": "2025-04-01",
}
QUESTION = {"question": "How much will the Northport harbour bridge cost?"}


def newsrag_command() -> list[str]:
    beside = Path(sys.executable).parent / "newsrag"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "api.cli"]


def test_store_down_is_503_then_recovers(tmp_path: Path, embedder: Embedder) -> None:
    chroma = start_chroma_server(tmp_path / "chroma")
    try:
        settings = Settings(
            _env_file=None, data_dir=tmp_path / "data", chroma_url=chroma.url, collection=f"api-{uuid.uuid4().hex[:10]}"
        )
        with serving(settings, embedder) as base, httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
            bridge_id = c.post("/v1/articles", json=[BRIDGE]).json()["items"][0]["id"]
            assert c.post("/v1/ask", json=QUESTION).status_code == 200

            chroma.stop()
            for method, path, body in (
                ("POST", "/v1/ask", QUESTION),
                ("POST", "/v1/ask/stream", QUESTION),
                ("POST", "/v1/articles", [FERRY]),
                ("DELETE", f"/v1/articles/{bridge_id}", None),
            ):
                response = c.request(method, path, json=body)
                assert response.status_code == 503, (path, response.text)
                error = response.json()["error"]
                assert error["type"] == "store_unavailable" and "Traceback" not in error["message"]
            ready = c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["store"]["ok"] is False
            assert c.get("/healthz").status_code == 200

            chroma = start_chroma_server(tmp_path / "chroma", port=chroma.port)
            assert c.get("/readyz").status_code == 200
            answer = c.post("/v1/ask", json=QUESTION)
            assert answer.status_code == 200, answer.text
            assert "$2 billion" in answer.json()["answer"]
            assert c.post("/v1/articles", json=[FERRY]).json()["added"] == 1
    finally:
        chroma.stop()


@contextmanager
def api_process(name: str, tmp_path: Path, env: dict[str, str], *extra: str) -> Iterator[str]:
    port = free_port()
    proc = ManagedProcess(
        [*newsrag_command(), "serve", "--port", str(port), "--log-level", "warning", *extra],
        log_path=tmp_path / f"{name}.log",
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    proc.start(ready=f"{url}/readyz", timeout=120)
    try:
        yield url
    finally:
        proc.stop()


def test_two_api_processes_share_one_chroma_server(chroma_server: ChromaServer, tmp_path: Path) -> None:  # noqa: F811
    env = {
        **os.environ,
        "NEWSRAG_CHROMA_URL": chroma_server.url,
        "NEWSRAG_DATA_DIR": str(tmp_path / "data"),  # the catalog (SQLite) is shared on one machine
        "NEWSRAG_COLLECTION": f"api-{uuid.uuid4().hex[:10]}",
        "NEWSRAG_ANSWERER": "extractive",
    }
    with (
        api_process("api-a", tmp_path, env) as a,
        api_process("api-b", tmp_path, env, "--workers", "2") as b,
        httpx.Client(timeout=60, trust_env=False) as c,
    ):
        report = c.post(f"{a}/v1/articles", json=[BRIDGE, FERRY]).json()
        assert report["added"] == 2, report
        for _ in range(4):  # several requests, so both of B's workers very likely answer one
            answer = c.post(f"{b}/v1/ask", json=QUESTION).json()
            assert not answer["refused"] and "$2 billion" in answer["answer"], answer
            assert_answer_valid(answer, c, b)
        bridge_id = report["items"][0]["id"]
        assert c.delete(f"{b}/v1/articles/{bridge_id}").status_code == 200
        assert c.get(f"{a}/v1/articles/{bridge_id}").status_code == 404
        answer = c.post(f"{a}/v1/ask", json=QUESTION).json()
        assert all(cit["article_id"] != bridge_id for cit in answer["citations"])


def test_workers_need_a_chroma_server(tmp_path: Path) -> None:
    env = {**os.environ, "NEWSRAG_DATA_DIR": str(tmp_path / "data")}
    env.pop("NEWSRAG_CHROMA_URL", None)
    result = subprocess.run(
        [*newsrag_command(), "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "NEWSRAG_CHROMA_URL" in result.stderr
