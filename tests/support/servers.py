"""Helpers shared by the fixtures that start real servers: free ports, readiness polling and a managed
subprocess; an ASGI app in a background uvicorn thread comes from testkit/threaded_server.py (benchmarks
use it too, and must not import tests/).

Everything here binds to 127.0.0.1 only and cleans up after itself (sockets closed, threads joined,
processes killed), because pytest turns ResourceWarnings into errors.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from testkit.threaded_server import LOCALHOST, UvicornThread, bind_socket  # noqa: F401 - the fixtures import them here


class ServerStartError(RuntimeError):
    """A server did not become ready in time (the message says why and shows its log tail)."""


# ----------------------------------------------------------------------------------------------- ports


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free a moment ago (the OS picks it). Prefer `bind_socket(0)` where the server
    can take an already-bound socket: that leaves no window for another process to grab the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = LOCALHOST, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------- readiness


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Poll `predicate` until it returns True. `alive()` may return a reason string to fail early
    (e.g. 'process exited with code 1'); it is checked between polls."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if alive is not None:
            reason = alive()
            if reason:
                raise ServerStartError(f"{what}: {reason}")
        if time.monotonic() >= deadline:
            raise ServerStartError(f"{what}: not ready after {timeout:.1f}s")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET url answers 2xx (no proxies: test servers are local)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_for_http(
    url: str,
    timeout: float = 30.0,
    interval: float = 0.1,
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Wait until GET url answers 2xx; fail early when `alive()` returns a reason."""
    wait_until(lambda: http_ok(url), timeout, interval, what=f"GET {url}", alive=alive)


def wait_for_port(
    port: int, host: str = LOCALHOST, timeout: float = 30.0, alive: Callable[[], str | None] | None = None
) -> None:
    wait_until(lambda: port_is_open(port, host), timeout, what=f"tcp {host}:{port}", alive=alive)


# ------------------------------------------------------------------------------------ subprocesses


class ManagedProcess:
    """A child process with its output in a log file, killed (whole process group) on `stop()`.

    `ready` is a URL polled with GET until 2xx, or a callable returning True when ready. If the process
    exits before it is ready, ServerStartError carries the tail of its log.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self, ready: str | Callable[[], bool] | None = None, timeout: float = 60.0) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # its own process group, so stop() reaches its children too
        )
        if ready is not None:
            check = (lambda: http_ok(ready)) if isinstance(ready, str) else ready
            what = f"{Path(self.args[0]).name} ({' '.join(self.args[1:4])} ...)"
            try:
                wait_until(check, timeout, 0.2, what=what, alive=self._exit_reason)
            except ServerStartError as exc:
                tail = self.log_tail()
                self.stop()
                raise ServerStartError(f"{exc}\n--- log {self.log_path} (tail) ---\n{tail}") from None
        return self

    def _exit_reason(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return f"process exited with code {self.proc.returncode}"
        return None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout)
            else:
                proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
