"""README: "Nothing leaves the machine unless you configure an LLM or embedding endpoint".

The product runs in subprocesses (ingest, ask, serve answering one request) with a socket guard loaded
through `sitecustomize`: every connect, sendto or name lookup for an address outside loopback is written
to a log and fails. The log must stay empty. The environment carries none of the offline switches
(HF_HUB_OFFLINE, ANONYMIZED_TELEMETRY, ...): the product has to set them itself.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.servers import LOCALHOST, ManagedProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent

GUARD = r'''
"""Socket guard for tests/test_offline.py: no connection leaves loopback."""
import ipaddress
import os
import socket
import traceback

_LOG = os.environ["NEWSRAG_TEST_GUARD_LOG"]


def _loopback(host):
    if host is None:
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host.lower() in ("localhost", "localhost.localdomain", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name other than localhost: resolving it is already a lookup outside


def _blocked(what, target):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"pid {os.getpid()} {what} {target!r}\n{''.join(traceback.format_stack(limit=12))}\n")
    raise OSError(f"socket guard: {what} to {target!r} leaves the machine")


def _check(sock, address, what):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        if not _loopback(address[0]):
            _blocked(what, address)


_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
_getaddrinfo = socket.getaddrinfo


def connect(self, address):
    _check(self, address, "connect")
    return _connect(self, address)


def connect_ex(self, address):
    _check(self, address, "connect_ex")
    return _connect_ex(self, address)


def sendto(self, data, *args):
    _check(self, args[-1], "sendto")
    return _sendto(self, data, *args)


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _blocked("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.getaddrinfo = getaddrinfo
'''

OFFLINE_SWITCHES = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "ORT_DISABLE_TELEMETRY",
    "ANONYMIZED_TELEMETRY",
)
ARTICLE = (
    '---\ntitle: "Harbour bridge approved"\nsource: "Harbour Herald"\nurl: "https://example.test/bridge"\n'
    'published_at: "2025-03-03T09:00:00+00:00"\n---\n'
    "The city council approved a new harbour bridge on Monday. The bridge will cost $2 billion, the council said. "
    "Construction is expected to start next spring.\n"
)
QUESTION = "How much will the harbour bridge cost?"


@pytest.fixture
def guarded(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Python processes load the guard; and the guard's log."""
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    log = tmp_path / "guard.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSRAG_", "OPENAI_")) and k not in OFFLINE_SWITCHES and k != "PYTHONPATH"
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(guard_dir), str(REPO)]),
        NEWSRAG_TEST_GUARD_LOG=str(log),
        NEWSRAG_DATA_DIR=str(tmp_path / "data"),
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    return env, log


def newsrag(env: dict[str, str], *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "api.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )


def attempts(log: Path) -> str:
    return log.read_text(encoding="utf-8") if log.exists() else ""


def test_the_guard_catches_an_outside_connection(guarded: tuple[dict[str, str], Path]) -> None:
    """The guard is not vacuous: a connection to a documentation address is logged and fails."""
    env, log = guarded
    code = (
        "import socket\n"
        "try:\n    socket.create_connection(('203.0.113.1', 80), timeout=1)\n"
        "except OSError as e:\n    print('refused', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "socket guard" in result.stdout
    assert "203.0.113.1" in attempts(log)


def test_ingest_ask_and_serve_stay_on_the_machine(tmp_path: Path, guarded: tuple[dict[str, str], Path]) -> None:
    env, log = guarded
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "bridge.md").write_text(ARTICLE, encoding="utf-8")

    ingested = newsrag(env, "ingest", str(folder))
    assert ingested.returncode == 0, (ingested.stdout, ingested.stderr)
    assert not attempts(log), attempts(log)

    asked = newsrag(env, "ask", QUESTION)
    assert asked.returncode == 0, (asked.stdout, asked.stderr)
    assert "$2 billion" in asked.stdout
    assert not attempts(log), attempts(log)

    port = free_port()
    server = ManagedProcess(
        [sys.executable, "-m", "api.cli", "serve", "--host", LOCALHOST, "--port", str(port)],
        log_path=tmp_path / "serve.log",
        env=env,
        cwd=REPO,
    )
    base = f"http://{LOCALHOST}:{port}"
    server.start(ready=f"{base}/healthz", timeout=180)
    try:
        with httpx.Client(timeout=120, trust_env=False) as client:
            response = client.post(f"{base}/v1/ask", json={"question": QUESTION})
            assert response.status_code == 200, response.text
            assert response.json()["citations"]
    finally:
        server.stop()
    assert not attempts(log), attempts(log)


# connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("203.0.113.1")}, 16)
# connect(3, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=..., inet_pton(AF_INET6, "2001:db8::1", ...
TRACED_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')


def outside_addresses(trace: str) -> list[str]:
    found = [a or b for a, b in TRACED_ADDRESS.findall(trace)]
    return [a for a in found if not ipaddress.ip_address(a).is_loopback and a not in ("0.0.0.0", "::")]


def test_no_outside_connection_even_from_native_code(tmp_path: Path, guarded: tuple[dict[str, str], Path]) -> None:
    """The Python guard cannot see sockets opened by native code (Chroma's Rust core, onnxruntime, a C
    resolver): strace records every connect/sendto system call of ingest and ask."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    probe = tmp_path / "probe.trace"
    check = subprocess.run(
        [strace, "--seccomp-bpf", "-f", "-qq", "-e", "trace=connect", "-o", str(probe), sys.executable, "-c",
         "import socket; s = socket.socket(); s.settimeout(0.2); s.connect_ex(('203.0.113.1', 9))"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if check.returncode != 0 or "203.0.113.1" not in probe.read_text():
        pytest.skip(f"strace cannot trace here: {check.stderr.strip()[:200]}")

    env, _ = guarded
    env = {**env, "PYTHONPATH": str(REPO)}  # no Python guard: see what really reaches the kernel
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "bridge.md").write_text(ARTICLE, encoding="utf-8")
    for name, args in (("ingest", ("ingest", str(folder))), ("ask", ("ask", QUESTION))):
        trace = tmp_path / f"{name}.trace"
        prefix = (strace, "--seccomp-bpf", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace))
        result = newsrag(env, *args, prefix=prefix)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
        assert outside_addresses(trace.read_text()) == [], (name, trace.read_text()[-3000:])
