"""An ASGI app served by a real uvicorn server in a background thread on 127.0.0.1: what the scripted LLM
and the API tests serve with. Needs only uvicorn (no pytest), so benchmarks can use it too."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

LOCALHOST = "127.0.0.1"


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

            deadline = time.monotonic() + timeout
            while not server.started:
                if not self._thread.is_alive():
                    raise RuntimeError(f"uvicorn on {self.url}: the thread exited ({self._error!r})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn on {self.url}: not ready after {timeout:.1f}s")
                time.sleep(0.01)
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
