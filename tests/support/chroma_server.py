"""A real Chroma server (`chroma run --path DIR --port PORT`) for tests, on a free local port.

Use it from any test package, either by importing the fixtures into a test module:

    from tests.support.chroma_server import chroma_server, chroma_settings  # noqa: F401

or for the whole suite with one line in tests/conftest.py:

    pytest_plugins = ["tests.support.chroma_server"]

`chroma_server` is one server per test session (each test gets its own collection through
`chroma_settings`, so tests stay independent); `start_chroma_server()` starts a private one.
Telemetry is off; the process is terminated (then killed) on teardown and its log closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from rag.settings import Settings

HOST = "127.0.0.1"


class ChromaServerError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


def chroma_binary() -> str:
    """The `chroma` CLI of this environment (beside the running Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if found is None:
        raise ChromaServerError("the `chroma` command is not installed (pip package chromadb)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy


def heartbeat(url: str, timeout: float = 1.0) -> bool:
    """True when the server answers its heartbeat ({"nanosecond heartbeat": N})."""
    try:
        with _DIRECT.open(f"{url}/api/v2/heartbeat", timeout=timeout) as response:
            body = json.loads(response.read())
            return response.status == 200 and any("heartbeat" in key for key in body)
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass
class ChromaServer:
    url: str
    port: int
    path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    _log: IO[bytes]

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """Terminate (SIGTERM), then kill if it lingers; always reap the process and close the log."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
        finally:
            self._log.close()


def _spawn(path: Path, port: int, log_path: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY": "False", "NO_COLOR": "1"}
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(
            [chroma_binary(), "run", "--path", str(path), "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C in the test terminal does not race our own shutdown
        )
    except BaseException:
        log.close()
        raise
    return process, log


def start_chroma_server(path: Path, port: int | None = None, timeout: float = 60, attempts: int = 3) -> ChromaServer:
    """Start `chroma run` on `path` and wait for its heartbeat. A port lost to a race is retried."""
    path.mkdir(parents=True, exist_ok=True)
    log_path = path.parent / f"{path.name}-chroma.log"
    last_error = ""
    for _ in range(attempts):
        chosen = port or free_port()
        url = f"http://{HOST}:{chosen}"
        process, log = _spawn(path, chosen, log_path)
        server = ChromaServer(url, chosen, path, log_path, process, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and server.running:
            if heartbeat(url):
                return server
            time.sleep(0.1)
        last_error = (
            f"chroma run on port {chosen} exited with code {process.returncode}"
            if not server.running
            else f"no heartbeat from {url} within {timeout:.0f}s"
        )
        tail = server.log_tail()
        server.stop()
        last_error += f"\n--- chroma log ---\n{tail}"
        if port is not None:
            break
    raise ChromaServerError(last_error)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One real Chroma server for the session, on a free port, data in a temporary folder."""
    server = start_chroma_server(tmp_path_factory.mktemp("chroma-server") / "db")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_settings(chroma_server: ChromaServer, tmp_path: Path) -> Settings:
    """Settings for server mode: the session's server, a fresh collection, a fresh catalog folder."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        chroma_url=chroma_server.url,
        collection=f"test-{uuid.uuid4().hex[:12]}",
    )


@contextlib.contextmanager
def private_chroma_server(path: Path) -> Iterator[ChromaServer]:
    """A server of one's own (e.g. to stop and restart it inside a test)."""
    server = start_chroma_server(path)
    try:
        yield server
    finally:
        server.stop()
