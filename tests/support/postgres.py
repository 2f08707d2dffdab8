"""A real PostgreSQL server for tests: `initdb` in a temporary folder, `postgres` on a free local port.

    from tests.support.postgres import postgres_server, pg_url  # noqa: F401

`postgres_server` is one server per test session; `pg_url` is its URL. Tests stay independent through
the catalog's schema per collection (a fresh collection name per test). The binaries are Debian's
(`make postgres` installs the `postgresql` package; /usr/lib/postgresql/*/bin), or any on PATH.
PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres` system user
(or `nobody`) and the server runs as that user. Without binaries the fixture skips, saying why.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
import pytest

from tests.support.servers import LOCALHOST, free_port

SUPERUSER = "newsrag"
NOT_INSTALLED = (
    "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): "
    "`make postgres` installs Debian's postgresql package"
)


class PostgresError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL's bin folder, else the folder of an `initdb` on PATH."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _run_as() -> pwd.struct_passwd | None:
    """Who owns the cluster: None (ourselves) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresError("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PostgresServer:
    url: str
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    _log: IO[bytes]

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> None:
        """Fast shutdown (SIGINT: roll back open transactions), then kill; reap, close the log, remove the folder."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
        finally:
            self._log.close()
            shutil.rmtree(self.root, ignore_errors=True)


def _ready(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def start_postgres(timeout: float = 60) -> PostgresServer:
    """initdb a fresh cluster (trust auth on loopback only, no fsync: test data is thrown away) and start it."""
    bindir = postgres_bindir()
    if bindir is None:
        raise FileNotFoundError(NOT_INSTALLED)
    user = _run_as()
    # Not under pytest's tmp folder: that is private to us (0700), and the server may run as another user.
    root = Path(tempfile.mkdtemp(prefix="newsrag-pg-"))
    data = root / "data"
    data.mkdir()
    ids: dict[str, int] = {}
    if user is not None:
        for path in (root, data):
            os.chown(path, user.pw_uid, user.pw_gid)
        ids = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    if user is not None:
        env["HOME"] = str(root)
    init = subprocess.run(
        [bindir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
        **ids,  # type: ignore[arg-type]
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    last = ""
    for _ in range(3):  # a port taken between choosing and binding is retried
        port = free_port()
        log = (root / "postgres.log").open("ab")
        process = subprocess.Popen(
            [
                bindir / "postgres",
                "-D",
                data,
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOCALHOST}",
                "-c",
                f"unix_socket_directories={root}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
            **ids,  # type: ignore[arg-type]
        )
        server = PostgresServer(f"postgresql://{SUPERUSER}@{LOCALHOST}:{port}/postgres", port, root, process, log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _ready(server.url):
                return server
            time.sleep(0.1)
        last = f"postgres on port {port}: " + (
            f"exited with code {process.returncode}" if process.poll() is not None else "not ready"
        )
        last += f"\n--- log ---\n{server.log_tail()}"
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()
    shutil.rmtree(root, ignore_errors=True)
    raise PostgresError(last)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session; skips only where PostgreSQL is not installed."""
    try:
        server = start_postgres()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.url
