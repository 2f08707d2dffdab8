"""Helpers shared by the fixtures that start real servers: free ports, readiness polling,
an ASGI app served by a real uvicorn in a background thread, and a managed subprocess.

Everything here binds to 127.0.0.1 only and cleans up after itself (sockets closed, threads joined,
processes killed), because pytest turns ResourceWarnings into errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn

LOCALHOST = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server did not become ready in time (the message says why and shows its log tail)."""


# ----------------------------------------------------------------------------------------------- ports


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free a moment ago (the OS picks it). Prefer `bind_socket(0)` where the server
    can take an already-bound socket: that leaves no window for another process to grab the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def bind_socket(port: int = 0, host: str = LOCALHOST) -> socket.socket:
    """A listening-ready TCP socket bound to host:port (port 0: the OS picks a free one).
    SO_REUSEADDR lets a stopped server be started again on the same port straight away."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


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


# -------------------------------------------------------------------------------- uvicorn in a thread


class UvicornThread:
    """Serve an ASGI app with a real uvicorn server in a daemon thread on 127.0.0.1.

    `start()` returns once the server accepts connections; `stop()` closes the listening socket (the port
    then refuses connections) and joins the thread; `start()` again re-binds the same port. Usable as a
    context manager. `port=0` picks a free port on first start.
    """

    def __init__(
        self,
        app: Any,
        port: int = 0,
        *,
        lifespan: str = "auto",
        log_level: str = "warning",
        graceful_timeout: int = 5,
        **config_kwargs: Any,
    ) -> None:
        self.app = app
        self.port = port
        self.host = LOCALHOST
        self._lifespan = lifespan
        self._log_level = log_level
        self._graceful_timeout = graceful_timeout
        self._config_kwargs = config_kwargs
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.RLock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> UvicornThread:
        with self._lock:
            if self.running:
                return self
            sock = bind_socket(self.port, self.host)
            self.port = int(sock.getsockname()[1])
            config = uvicorn.Config(
                self.app,
                host=self.host,
                port=self.port,
                lifespan=self._lifespan,  # type: ignore[arg-type]
                log_level=self._log_level,
                access_log=False,
                loop="asyncio",
                http="h11",
                ws="none",
                timeout_graceful_shutdown=self._graceful_timeout,
                **self._config_kwargs,
            )
            server = uvicorn.Server(config)
            self._server = server
            self._error = None

            def run() -> None:
                try:
                    asyncio.run(server.serve(sockets=[sock]))
                except BaseException as exc:  # SystemExit from a failed startup included
                    self._error = exc
                finally:
                    sock.close()

            self._thread = threading.Thread(target=run, name=f"uvicorn-{self.port}", daemon=True)
            self._thread.start()

            def alive() -> str | None:
                if self._thread is not None and not self._thread.is_alive():
                    return f"uvicorn thread exited ({self._error!r})"
                return None

            wait_until(lambda: server.started, timeout, 0.01, what=f"uvicorn on {self.url}", alive=alive)
            return self

    def stop(self, timeout: float = 10.0, force: bool = False) -> None:
        """Stop serving. `force=True` skips waiting for in-flight requests (and the lifespan shutdown)."""
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            server.should_exit = True
            if force:
                server.force_exit = True
            thread.join(timeout)
            if thread.is_alive():  # a stuck handler: force it
                server.force_exit = True
                thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"uvicorn on {self.url} did not stop within {2 * timeout:.0f}s")
            self._server = None
            self._thread = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> UvicornThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
