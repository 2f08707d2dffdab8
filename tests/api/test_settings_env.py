"""`newsrag` configured the way README documents it, in a real process environment: comma-separated API
keys guard a real `newsrag serve`; an invalid setting is one line and exit code 2 from any command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import ManagedProcess, free_port

pytestmark = pytest.mark.integration


def newsrag_command() -> list[str]:
    beside = Path(sys.executable).parent / "newsrag"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "api.cli"]


def env_for(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_")}
    env.update(
        NEWSRAG_DATA_DIR=str(tmp_path / "data"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        **settings,
    )
    return env


def run(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*newsrag_command(), *args],
        env=env_for(tmp_path, **settings),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def keyed_api(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = env_for(tmp_path, NEWSRAG_API_KEYS="k1,k2", NEWSRAG_ADMIN_KEYS="boss")
    proc = ManagedProcess(
        [*newsrag_command(), "serve", "--port", str(port), "--log-level", "warning"],
        log_path=tmp_path / "serve.log",
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}"
    proc.start(ready=f"{url}/healthz", timeout=120)
    try:
        yield url
    finally:
        proc.stop()


@pytest.mark.slow
def test_comma_separated_keys_guard_a_served_api(keyed_api: str) -> None:
    with httpx.Client(base_url=keyed_api, timeout=30, trust_env=False) as client:
        assert client.get("/v1/articles").status_code == 401
        assert client.get("/v1/articles", headers={"Authorization": "Bearer nope"}).status_code == 401
        for key in ("k1", "k2", "boss"):
            assert client.get("/v1/articles", headers={"Authorization": f"Bearer {key}"}).status_code == 200, key
        assert client.get("/v1/articles", headers={"X-API-Key": "k2"}).status_code == 200
        read_key = {"Authorization": "Bearer k2"}
        denied = client.delete("/v1/articles/0123456789abcdef", headers=read_key)
        assert denied.status_code == 403 and denied.json()["error"]["type"] == "forbidden"
        allowed = client.delete("/v1/articles/0123456789abcdef", headers={"Authorization": "Bearer boss"})
        assert allowed.status_code == 404  # past the key check: there is no such article


@pytest.mark.parametrize(
    "command",
    [["status"], ["ingest", "samples"], ["articles", "list"], ["ask", "anything"], ["serve", "--port", "9"]],
)
def test_an_invalid_setting_is_one_line_and_exit_code_2(tmp_path: Path, command: list[str]) -> None:
    done = run(tmp_path, *command, NEWSRAG_TOP_K="notanumber")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: invalid setting NEWSRAG_TOP_K='notanumber': ")
    assert "serving" not in done.stdout
    assert not (tmp_path / "data").exists()  # refused before opening any store


def test_a_broken_json_list_is_named(tmp_path: Path) -> None:
    done = run(tmp_path, "status", NEWSRAG_CORS_ORIGINS='["http://a.test"')
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid setting NEWSRAG_CORS_ORIGINS=") and "Traceback" not in done.stderr


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = run(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"newsrag {version('newsrag')}"
