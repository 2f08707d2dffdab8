"""What live ingest remembers between runs: the watched sources and the per-URL HTTP cache.

Two small interfaces (`SourceRegistry`, `HttpCache`) and one SQLite implementation in a file of its own
beside the catalog (`Settings.web_state_path`), every write one transaction. The catalog's own tables
are never touched from here: articles are replaced and deleted through the Store and the pipeline.

The HTTP cache belongs to one catalog generation (the Chroma collection id the catalog records): when
the catalog is reset, the validators are forgotten too, so a 304 never hides an article that is gone.
"""

from __future__ import annotations

import builtins
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from rag.errors import InvalidInput, StoreUnavailable
from rag.models import Frozen

SourceStatus = Literal["never", "ok", "not_modified", "partial", "error"]
MIN_EVERY_SECONDS = 60
MAX_EVERY_SECONDS = 30 * 86400
MAX_BACKOFF = timedelta(hours=24)

SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY,
    name TEXT,
    every_seconds INTEGER NOT NULL,
    summary_only INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL,
    last_fetch_at TEXT,
    next_due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'never',
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    articles_added INTEGER NOT NULL DEFAULT 0,
    last_added INTEGER NOT NULL DEFAULT 0,
    last_updated INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS http_cache (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    fetched_at TEXT NOT NULL
);
"""


class Source(Frozen):
    """A URL polled on a schedule (feed, sitemap or page) and how its last poll went."""

    url: str = Field(description="The feed, sitemap or page URL.")
    name: str | None = Field(None, description="A label for lists and progress bars.")
    every_seconds: int = Field(ge=MIN_EVERY_SECONDS, description="How often it is polled.")
    summary_only: bool = Field(False, description="Feed summaries as they are, not followed to the page.")
    added_at: datetime = Field(description="When it was added.")
    last_fetch_at: datetime | None = Field(None, description="When it was last polled.")
    next_due_at: datetime = Field(description="When it is next polled (later after failures: backoff).")
    status: SourceStatus = Field("never", description="never, ok, not_modified (HTTP 304), partial, error.")
    last_error: str | None = Field(None, description="Why the last poll failed, or its first failed item.")
    failures: int = Field(0, description="Failed polls in a row (the backoff doubles with each).")
    articles_added: int = Field(0, description="Articles added from this source, all polls together.")
    last_added: int = Field(0, description="Articles the last poll added.")
    last_updated: int = Field(0, description="Articles the last poll updated.")

    @property
    def label(self) -> str:
        return self.name or self.url


@dataclass(frozen=True)
class PollRecord:
    """What one poll of a source did, as the registry keeps it."""

    status: SourceStatus
    error: str | None = None
    added: int = 0
    updated: int = 0


_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}


def parse_every(text: str) -> int:
    """'15m', '2h', '1d', '90s' (a bare number is minutes) as seconds; at least a minute."""
    match = _EVERY.match(text)
    if match is None:
        raise InvalidInput(f"cannot read the schedule {text!r}: use e.g. 15m, 2h or 1d", field="every")
    seconds = int(float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    if seconds > MAX_EVERY_SECONDS:
        raise InvalidInput(f"the schedule {text!r} is over 30 days", field="every")
    if seconds < MIN_EVERY_SECONDS:
        raise InvalidInput(f"the schedule {text!r} is under a minute: poll at most once a minute", field="every")
    return seconds


def next_due(now: datetime, every_seconds: int, failures: int) -> datetime:
    """The schedule, doubled per failure in a row (never beyond a day or below the schedule)."""
    every = timedelta(seconds=every_seconds)
    if failures <= 0:
        return now + every
    return now + max(every, min(every * 2 ** min(failures, 16), MAX_BACKOFF))


@dataclass(frozen=True)
class CacheEntry:
    """Validators of the last 200 answer for one URL, sent back as If-None-Match / If-Modified-Since."""

    url: str
    etag: str | None
    last_modified: str | None
    fetched_at: datetime


class SourceRegistry(Protocol):
    def add(self, url: str, every_seconds: int, name: str | None = None, summary_only: bool = False) -> Source: ...
    def remove(self, url: str) -> bool: ...
    def get(self, url: str) -> Source | None: ...
    def list(self) -> list[Source]: ...
    def record(self, url: str, poll: PollRecord, now: datetime | None = None) -> Source | None: ...


class HttpCache(Protocol):
    def get(self, url: str) -> CacheEntry | None: ...
    def put_many(self, entries: list[CacheEntry]) -> None: ...


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SqliteWebState:
    """Both interfaces in one SQLite file; safe to share between the watcher's fetch threads."""

    def __init__(self, path: Path, generation: str | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            self._conn.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open the web state file {path}: {exc}") from exc
        if generation is not None:
            self._check_generation(generation)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteWebState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _check_generation(self, generation: str) -> None:
        with self._tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
            if row is None or row["value"] != generation:
                conn.execute("DELETE FROM http_cache")
                conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('generation', ?)", (generation,))

    # ---------------------------------------------------------------------------- sources
    def add(self, url: str, every_seconds: int, name: str | None = None, summary_only: bool = False) -> Source:
        """Add a source (due at once), or change the schedule, name and mode of one already there."""
        now = datetime.now(UTC)
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO sources(url, name, every_seconds, summary_only, added_at, next_due_at)
                VALUES (?,?,?,?,?,?) ON CONFLICT(url) DO UPDATE SET every_seconds=excluded.every_seconds,
                summary_only=excluded.summary_only, name=COALESCE(excluded.name, sources.name)""",
                (url, name, every_seconds, int(summary_only), _iso(now), _iso(now)),
            )
        source = self.get(url)
        assert source is not None
        return source

    def remove(self, url: str) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM sources WHERE url=?", (url,)).rowcount > 0

    def get(self, url: str) -> Source | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM sources WHERE url=?", (url,)).fetchone()
        return _source(row) if row else None

    def list(self) -> list[Source]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM sources ORDER BY added_at, url").fetchall()
        return [_source(r) for r in rows]

    def record(self, url: str, poll: PollRecord, now: datetime | None = None) -> Source | None:
        """Store a poll's outcome and the next due time; None if the source was removed meanwhile."""
        now = now or datetime.now(UTC)
        with self._tx() as conn:
            row = conn.execute("SELECT every_seconds, failures FROM sources WHERE url=?", (url,)).fetchone()
            if row is None:
                return None
            failures = row["failures"] + 1 if poll.status == "error" else 0
            conn.execute(
                """UPDATE sources SET last_fetch_at=?, next_due_at=?, status=?, last_error=?, failures=?,
                articles_added=articles_added+?, last_added=?, last_updated=? WHERE url=?""",
                (
                    _iso(now),
                    _iso(next_due(now, row["every_seconds"], failures)),
                    poll.status,
                    poll.error,
                    failures,
                    poll.added,
                    poll.added,
                    poll.updated,
                    url,
                ),
            )
        return self.get(url)

    # ------------------------------------------------------------------------- HTTP cache
    def get_entry(self, url: str) -> CacheEntry | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM http_cache WHERE url=?", (url,)).fetchone()
        if row is None:
            return None
        fetched = _dt(row["fetched_at"])
        assert fetched is not None
        return CacheEntry(row["url"], row["etag"], row["last_modified"], fetched)

    def put_many(self, entries: builtins.list[CacheEntry]) -> None:
        if not entries:
            return
        with self._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO http_cache(url, etag, last_modified, fetched_at) VALUES (?,?,?,?)",
                [(e.url, e.etag, e.last_modified, _iso(e.fetched_at)) for e in entries],
            )

    @property
    def cache(self) -> HttpCache:
        return _CacheView(self)


class _CacheView:
    """The HTTP-cache face of the state file (its `get` reads cache entries, not sources)."""

    def __init__(self, state: SqliteWebState) -> None:
        self._state = state

    def get(self, url: str) -> CacheEntry | None:
        return self._state.get_entry(url)

    def put_many(self, entries: list[CacheEntry]) -> None:
        self._state.put_many(entries)


def _source(row: sqlite3.Row) -> Source:
    """The `sources` table's columns are Source's fields (times as ISO text, summary_only as 0/1)."""
    return Source.model_validate(dict(row))
