"""The catalog: articles, their chunks, the keyword (FTS5/BM25) index and the chunks' sentence vectors (what
the extractive answerer and citation checks score), in one SQLite file.

`CatalogBackend` is what the rest of the code may call; `Catalog` (this SQLite file, the embedded
default) and `rag.catalog_pg.PgCatalog` (a PostgreSQL server shared by several hosts) implement it, on
`CommittingCatalog` (the order of a commit) and the row codecs below, which both share.

It sits beside Chroma and is the ledger that makes ingest idempotent: an article counts as stored only
once its row is committed here, after its vectors are in Chroma. A killed ingest therefore leaves at
worst vectors without a catalog row, which the next run overwrites (same chunk ids) and prunes.
"""

from __future__ import annotations

import builtins
import functools
import json
import re
import sqlite3
import threading
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from rag.dates import to_ts
from rag.errors import StoreUnavailable
from rag.models import Article, Chunk

# The tables both backends hold column for column (`article_row` writes an article, `article_from_row` reads
# it back); each backend adds its own indexes and its chunk, keyword and sentence tables. (BIGINT, which
# PostgreSQL needs for timestamps past 2038, is an INTEGER to SQLite.)
ARTICLE_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT,
    source TEXT,
    author TEXT,
    published_ts BIGINT,
    published_at TEXT,
    updated_at TEXT,
    category TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    alt_urls TEXT NOT NULL DEFAULT '[]',
    origin TEXT,
    n_chunks INTEGER NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_body_hash ON articles(body_hash);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_ts);
CREATE TABLE IF NOT EXISTS aliases (
    alias_id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    content_hash TEXT NOT NULL
);
"""

SCHEMA = (
    "PRAGMA journal_mode=WAL;"
    + ARTICLE_TABLES
    + """CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
-- The vectors of a chunk's sentences (split by rag.text.sentence_spans over the chunk's text, in text order):
-- n rows of dim float16 values, written with the chunk and removed with it.
CREATE TABLE IF NOT EXISTS chunk_sentences (
    chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    vectors BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, text, tokenize='porter unicode61 remove_diacritics 2'
);
"""
)

_WORD = re.compile(r"[\w][\w'’.-]*[\w]|[\w]", re.UNICODE)
STOPWORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have he her his how i in into is it
    its me my not of on or our she so than that the their them then there these they this those to was we
    were what when where which who whom why will with would you your about after before between both can
    could during each if more most other over same should some such through under until up very while
    also any according report reported article news says said""".split()
)


@dataclass(frozen=True)
class ArticleState:
    article_id: str
    content_hash: str


@dataclass(frozen=True)
class ArticleFilter:
    sources: tuple[str, ...] = ()
    since_ts: int | None = None
    until_ts: int | None = None
    article_ids: tuple[str, ...] = ()

    def sql(self, alias: str = "a") -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.sources:
            clauses.append(f"lower({alias}.source) IN ({','.join('?' * len(self.sources))})")
            params.extend(s.lower() for s in self.sources)
        if self.since_ts is not None:
            clauses.append(f"{alias}.published_ts >= ?")
            params.append(self.since_ts)
        if self.until_ts is not None:
            clauses.append(f"{alias}.published_ts <= ?")
            params.append(self.until_ts)
        if self.article_ids:
            clauses.append(f"{alias}.id IN ({','.join('?' * len(self.article_ids))})")
            params.extend(self.article_ids)
        return (" AND ".join(clauses) or "1=1"), params


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    article_id: str
    index: int
    start: int
    end: int


@dataclass(frozen=True)
class ChunkView:
    """A chunk with its text and what a hit shows of its article, read in one query."""

    chunk_id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None


class CatalogBackend(Protocol):
    """Articles, chunk offsets and keyword search: every call ingest, retrieval, the API and the CLI make."""

    @property
    def location(self) -> str:
        """Where the catalog lives, for status output (never a password)."""
        ...

    def close(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def reset(self) -> None: ...
    def states(self, ids: Sequence[str]) -> dict[str, ArticleState]: ...
    def find_body(self, body_hash: str) -> str | None: ...
    def commit_articles(
        self,
        items: Sequence[tuple[Article, Sequence[Chunk]]],
        salt: str = "",
        sentences: Mapping[str, np.ndarray] | None = None,
    ) -> None: ...
    def lacking_sentences(self, article_ids: Sequence[str]) -> set[str]: ...
    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]: ...
    def add_alias(self, alias_id: str, article_id: str, content_hash: str, url: str | None) -> None: ...
    def delete(self, article_id: str) -> bool: ...
    def get(self, article_id: str) -> Article | None: ...
    def get_many(self, ids: Sequence[str]) -> dict[str, Article]: ...
    def chunks_of(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]: ...
    def chunk_views(self, chunk_ids: Sequence[str]) -> dict[str, ChunkView]: ...
    def list(self, flt: ArticleFilter, limit: int = 100, offset: int = 0) -> builtins.list[Article]: ...
    def count(self, flt: ArticleFilter | None = None) -> int: ...
    def chunk_count(self) -> int: ...
    def sources(self) -> dict[str, int]: ...
    def date_range(self) -> tuple[datetime | None, datetime | None]: ...
    def keyword_search(self, query: str, flt: ArticleFilter, limit: int) -> builtins.list[tuple[str, float]]: ...


def fts_query(text: str) -> str | None:
    """A safe FTS5 OR-query from free text: quoted terms, stopwords dropped, order kept, no duplicates."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.casefold()):
        word = match.group(0).strip(".'’-")
        if len(word) < 2 and not word.isdigit():
            continue
        if word in STOPWORDS:
            continue
        seen.setdefault(word.replace('"', ""), None)
    if not seen:
        return None
    return " OR ".join(f'"{w}"' for w in seen)


# What a word in at least half of all rows can add to a bm25 score: FTS5 clamps its IDF to 1e-6, times at most
# k1 + 1 = 2.2 for the term-frequency part; with a margin for rounding.
COMMON_WORD_CEILING = 2.2e-6 * 1.01 + 1e-12


def _fts_rows(conn: sqlite3.Connection) -> int | None:
    """The number of rows FTS5 counts for bm25: the first varint of its averages record (id 1 of the _data
    table; SQLite varints: 7 bits a byte, the high bit says more follow, a ninth byte gives 8 bits)."""
    row = conn.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    if row is None or not isinstance(row[0], bytes):
        return None
    value = 0
    for i, byte in enumerate(row[0][:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@functools.lru_cache(maxsize=16384)
def _from_iso(value: str | None) -> datetime | None:
    """Memoised: retrieval parses the publication time of every candidate, and datetimes are immutable."""
    return datetime.fromisoformat(value) if value else None


def article_row(article: Article, salt: str, alt_urls: Sequence[str], n_chunks: int, now: str) -> tuple[object, ...]:
    """The `articles` row both backends write, in column order (id, content_hash, body_hash, title, body, url,
    source, author, published_ts, published_at, updated_at, category, tags, alt_urls, origin, n_chunks,
    ingested_at); `alt_urls` merged with a stored version's, else the article's own."""
    return (
        article.id,
        article.content_hash(salt),
        article.body_hash(),
        article.title,
        article.body,
        article.url,
        article.source,
        article.author,
        to_ts(article.published_at),
        _iso(article.published_at),
        _iso(article.updated_at),
        article.category,
        json.dumps(list(article.tags)),
        json.dumps(list(alt_urls) or list(article.alt_urls)),
        article.origin,
        n_chunks,
        now,
    )


class Row(Protocol):
    """A row read by column name: SQLite's `sqlite3.Row` or psycopg's dict row."""

    def __getitem__(self, key: str, /) -> Any: ...


# The `articles` columns that hold an Article field as it is; the others are decoded (dates, JSON lists) or
# are the catalog's own (hashes, published_ts, n_chunks, ingested_at).
_AS_STORED = ("id", "title", "body", "url", "source", "author", "category", "origin")


def article_from_row(row: Row) -> Article:
    """The Article an `articles` row of either backend was written from (`article_row`)."""
    return Article(
        **{column: row[column] for column in _AS_STORED},
        published_at=_from_iso(row["published_at"]),
        updated_at=_from_iso(row["updated_at"]),
        tags=tuple(json.loads(row["tags"])),
        alt_urls=tuple(json.loads(row["alt_urls"])),
    )


def article_states(articles: Iterable[Row], aliases: Iterable[Row]) -> dict[str, ArticleState]:
    """`states` from the rows found: an article's own hash, and a syndicated copy's (by its id) its article's."""
    out = {r["id"]: ArticleState(r["id"], r["content_hash"]) for r in articles}
    out.update({r["alias_id"]: ArticleState(r["article_id"], r["content_hash"]) for r in aliases})
    return out


def kept_alt_urls(stored: Row | None, article: Article) -> builtins.list[str]:
    """A new version's other URLs: the stored version's (`alt_urls` of its row) with the article's own."""
    return sorted(set(json.loads(stored["alt_urls"])) | set(article.alt_urls)) if stored is not None else []


def edited_alt_urls(row: Row, add: str | None, remove: str | None) -> str:
    """An article's `alt_urls` (from its row with `url`) with one URL added or removed, never its own URL."""
    urls = set(json.loads(row["alt_urls"]))
    if add and add != row["url"]:
        urls.add(add)
    urls.discard(remove or "")
    return json.dumps(sorted(urls))


def chunk_view(row: Row) -> ChunkView:
    """A `chunk_views` row (the chunk's columns, its `text` cut from the body, the article's columns)."""
    return ChunkView(
        chunk_id=row["id"],
        article_id=row["article_id"],
        index=row["idx"],
        start=row["start"],
        end=row["end"],
        text=row["text"],
        title=row["title"],
        source=row["source"],
        url=row["url"],
        published_at=_from_iso(row["published_at"]),
    )


def sentence_row(vectors: np.ndarray) -> tuple[int, int, bytes]:
    """A chunk's sentence vectors as stored: (n, dim, float16 bytes)."""
    return vectors.shape[0], vectors.shape[1], vectors.astype(np.float16).tobytes()


def sentence_array(n: int, dim: int, blob: bytes) -> np.ndarray:
    """Stored sentence vectors back as float32, one row per sentence."""
    return np.frombuffer(blob, dtype=np.float16).reshape(n, dim).astype(np.float32)


def from_ts(ts: int | None) -> datetime | None:
    """A `published_ts` (Unix seconds) back as a UTC datetime."""
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


ConnT = TypeVar("ConnT")


@dataclass(frozen=True)
class Commit:
    """What every article of one `commit_articles` call is written with: the version salt of its content
    hash, the time it is ingested at, and the sentence vectors by chunk id."""

    salt: str
    now: str
    sentences: Mapping[str, np.ndarray]


class CommittingCatalog(CatalogBackend, Generic[ConnT]):
    """The order both backends commit articles in, on their own connections and SQL: per article, the old
    version's chunks go, a syndicated copy that now stands on its own stops being an alias, then the row,
    chunks, keyword rows and sentence vectors are written (`_write_article`), all in one transaction."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager[ConnT]: ...
    @abstractmethod
    def _delete_chunks(self, conn: ConnT, article_id: str) -> None: ...
    @abstractmethod
    def _drop_alias(self, conn: ConnT, alias_id: str, url: str | None) -> None: ...
    @abstractmethod
    def _write_article(self, conn: ConnT, article: Article, chunks: Sequence[Chunk], commit: Commit) -> None: ...

    def commit_articles(
        self,
        items: Sequence[tuple[Article, Sequence[Chunk]]],
        salt: str = "",
        sentences: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Write articles, their chunks, keyword rows and sentence vectors (chunk id -> one row per sentence)
        in one transaction, replacing old versions."""
        commit = Commit(salt, datetime.now(UTC).isoformat(), sentences or {})
        with self._tx() as conn:
            for article, chunks in items:
                self._delete_chunks(conn, article.id)
                self._drop_alias(conn, article.id, article.url)  # a former copy now stands on its own
                self._write_article(conn, article, chunks, commit)


class Catalog(CommittingCatalog[sqlite3.Connection]):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open catalog {self.path}: {exc}") from exc
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- bookkeeping ---
    def get_meta(self, key: str) -> str | None:
        row = self._connect().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def reset(self) -> None:
        """Forget everything: used when the catalog no longer matches the Chroma collection."""
        with self._tx() as conn:
            for table in ("chunks_fts", "chunk_sentences", "chunks", "aliases", "articles", "meta"):
                conn.execute(f"DELETE FROM {table}")

    # --- ingest ---
    def states(self, ids: Sequence[str]) -> dict[str, ArticleState]:
        """Stored content hash per id, following aliases of syndicated copies."""
        out: dict[str, ArticleState] = {}
        conn = self._connect()
        for i in range(0, len(ids), 500):
            part = list(ids[i : i + 500])
            marks = ",".join("?" * len(part))
            articles = conn.execute(f"SELECT id, content_hash FROM articles WHERE id IN ({marks})", part)
            aliases = conn.execute(
                f"SELECT alias_id, article_id, content_hash FROM aliases WHERE alias_id IN ({marks})", part
            )
            out.update(article_states(articles, aliases))
        return out

    def find_body(self, body_hash: str) -> str | None:
        row = self._connect().execute("SELECT id FROM articles WHERE body_hash=?", (body_hash,)).fetchone()
        return row["id"] if row else None

    def _write_article(
        self, conn: sqlite3.Connection, article: Article, chunks: Sequence[Chunk], commit: Commit
    ) -> None:
        old = conn.execute("SELECT alt_urls, content_hash FROM articles WHERE id=?", (article.id,)).fetchone()
        alt_urls = kept_alt_urls(old, article)
        if old is not None and old["content_hash"] == article.content_hash(commit.salt):
            # The same version written again (adding its sentence vectors): its copies stay copies.
            # REPLACE below deletes the row first, and that cascades to the aliases.
            kept = conn.execute("SELECT * FROM aliases WHERE article_id=?", (article.id,)).fetchall()
        else:
            kept = []
        conn.execute(
            """INSERT OR REPLACE INTO articles(id, content_hash, body_hash, title, body, url, source,
            author, published_ts, published_at, updated_at, category, tags, alt_urls, origin,
            n_chunks, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            article_row(article, commit.salt, alt_urls, len(chunks), commit.now),
        )
        conn.executemany(
            "INSERT INTO aliases(alias_id, article_id, content_hash) VALUES (?,?,?)",
            [(r["alias_id"], r["article_id"], r["content_hash"]) for r in kept],
        )
        for chunk in chunks:
            cur = conn.execute(
                "INSERT INTO chunks(id, article_id, idx, start, end) VALUES (?,?,?,?,?)",
                (chunk.id, article.id, chunk.index, chunk.start, chunk.end),
            )
            conn.execute(
                "INSERT INTO chunks_fts(rowid, title, text) VALUES (?,?,?)",
                (cur.lastrowid, article.title, chunk.text),
            )
            rows = commit.sentences.get(chunk.id)
            if rows is not None:
                conn.execute(
                    "INSERT INTO chunk_sentences(chunk_id, n, dim, vectors) VALUES (?,?,?,?)",
                    (chunk.id, *sentence_row(rows)),
                )

    def lacking_sentences(self, article_ids: Sequence[str]) -> set[str]:
        """Stored articles with a chunk that has no sentence vectors (stores written before they existed)."""
        out: set[str] = set()
        conn = self._connect()
        for i in range(0, len(article_ids), 500):
            part = list(article_ids[i : i + 500])
            rows = conn.execute(
                f"""SELECT DISTINCT c.article_id FROM chunks c LEFT JOIN chunk_sentences s ON s.chunk_id = c.id
                WHERE c.article_id IN ({",".join("?" * len(part))}) AND s.chunk_id IS NULL""",
                part,
            )
            out.update(r[0] for r in rows)
        return out

    def add_alias(self, alias_id: str, article_id: str, content_hash: str, url: str | None) -> None:
        """Record a syndicated copy: its id points at the stored article, its URL joins alt_urls."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO aliases(alias_id, article_id, content_hash) VALUES (?,?,?)",
                (alias_id, article_id, content_hash),
            )
            if url:
                self._edit_alt_urls(conn, article_id, add=url)

    def _drop_alias(self, conn: sqlite3.Connection, alias_id: str, url: str | None) -> None:
        row = conn.execute("SELECT article_id FROM aliases WHERE alias_id=?", (alias_id,)).fetchone()
        if row is None:
            return
        conn.execute("DELETE FROM aliases WHERE alias_id=?", (alias_id,))
        if url:
            self._edit_alt_urls(conn, row["article_id"], remove=url)

    def _edit_alt_urls(
        self, conn: sqlite3.Connection, article_id: str, add: str | None = None, remove: str | None = None
    ) -> None:
        """Add or remove one of an article's other URLs (never its own)."""
        row = conn.execute("SELECT url, alt_urls FROM articles WHERE id=?", (article_id,)).fetchone()
        if row is not None:
            conn.execute("UPDATE articles SET alt_urls=? WHERE id=?", (edited_alt_urls(row, add, remove), article_id))

    def _delete_chunks(self, conn: sqlite3.Connection, article_id: str) -> None:
        rows = conn.execute("SELECT rowid FROM chunks WHERE article_id=?", (article_id,)).fetchall()
        conn.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(r["rowid"],) for r in rows])
        conn.execute("DELETE FROM chunks WHERE article_id=?", (article_id,))

    def delete(self, article_id: str) -> bool:
        with self._tx() as conn:
            self._delete_chunks(conn, article_id)
            conn.execute("DELETE FROM aliases WHERE article_id=?", (article_id,))
            return conn.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount > 0

    # --- reading ---
    def get(self, article_id: str) -> Article | None:
        row = self._connect().execute("SELECT * FROM articles WHERE id=?", (article_id,)).fetchone()
        return article_from_row(row) if row else None

    def get_many(self, ids: Sequence[str]) -> dict[str, Article]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._connect().execute(f"SELECT * FROM articles WHERE id IN ({marks})", list(ids))
        return {row["id"]: article_from_row(row) for row in rows}

    def chunks_of(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._connect().execute(
            f"SELECT id, article_id, idx, start, end FROM chunks WHERE id IN ({marks})", list(chunk_ids)
        )
        return {r["id"]: StoredChunk(r["id"], r["article_id"], r["idx"], r["start"], r["end"]) for r in rows}

    def chunk_views(self, chunk_ids: Sequence[str]) -> dict[str, ChunkView]:
        """Chunks with their text cut from the article body by SQLite, so no whole body leaves the catalog."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        # One row holding them all as JSON, not a row each: Python's sqlite3 gives up the GIL around every row
        # step (~100 a question), and under concurrent questions each has to win it back.
        (found,) = (
            self._connect()
            .execute(
                f"""SELECT json_group_array(json_array(c.id, c.article_id, c.idx, c.start, c.end,
                substr(a.body, c.start + 1, c.end - c.start), a.title, a.source, a.url, a.published_at))
                FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})""",
                list(chunk_ids),
            )
            .fetchone()
        )
        return {
            r[0]: ChunkView(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], _from_iso(r[9]))
            for r in json.loads(found)
        }

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by chunk id (float32, one row per sentence); chunks without any are absent."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self._connect().execute(
            f"SELECT chunk_id, n, dim, vectors FROM chunk_sentences WHERE chunk_id IN ({marks})", list(chunk_ids)
        )
        return {r["chunk_id"]: sentence_array(r["n"], r["dim"], r["vectors"]) for r in rows}

    def list(self, flt: ArticleFilter, limit: int = 100, offset: int = 0) -> list[Article]:
        where, params = flt.sql()
        rows = self._connect().execute(
            f"SELECT * FROM articles a WHERE {where} ORDER BY published_ts DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [article_from_row(r) for r in rows]

    def count(self, flt: ArticleFilter | None = None) -> int:
        where, params = (flt or ArticleFilter()).sql()
        return int(self._connect().execute(f"SELECT count(*) FROM articles a WHERE {where}", params).fetchone()[0])

    def chunk_count(self) -> int:
        return int(self._connect().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def sources(self) -> dict[str, int]:
        rows = self._connect().execute(
            "SELECT source, count(*) AS n FROM articles WHERE source IS NOT NULL GROUP BY source ORDER BY n DESC"
        )
        return {r["source"]: r["n"] for r in rows}

    def date_range(self) -> tuple[datetime | None, datetime | None]:
        row = self._connect().execute("SELECT min(published_ts), max(published_ts) FROM articles").fetchone()
        return from_ts(row[0]), from_ts(row[1])

    def keyword_search(self, query: str, flt: ArticleFilter, limit: int) -> builtins.list[tuple[str, float]]:
        """BM25 over chunk text and title; returns (chunk_id, score) best first (higher is better).

        Words in at least half of all chunks are left out of the search when enough chunks match the others:
        FTS5's bm25 gives such a word an IDF of 1e-6, so it adds less than 2.2e-6 to any score, yet scoring
        every chunk it occurs in was most of the search's time (on a corpus where a question's words are in
        every chunk, 32 ms of 35 at 50,000 chunks). Without them the ranking can differ only between chunks
        whose scores on the other words are within 2.2e-6 a left-out word; the full search still runs when
        fewer than `limit` chunks match the other words (it would fill the list with chunks that have only
        the common ones) or the last of them scores too little to be told apart from those."""
        match = fts_query(query)
        if match is None:
            return []
        conn = self._connect()
        owned = not conn.in_transaction
        if owned:
            conn.execute("BEGIN")  # the word counts and the search read one snapshot
        try:
            pruned = self._without_common_words(conn, match)
            if pruned is not None:
                informative, left_out = pruned
                rows = self._bm25(conn, informative, flt, limit)
                if limit > 0 and len(rows) == limit and -float(rows[-1]["rank"]) > left_out * COMMON_WORD_CEILING:
                    return [(r["chunk_id"], -float(r["rank"])) for r in rows]
            rows = self._bm25(conn, match, flt, limit)
        finally:
            if owned:
                conn.execute("COMMIT")
        return [(r["chunk_id"], -float(r["rank"])) for r in rows]

    def _bm25(self, conn: sqlite3.Connection, match: str, flt: ArticleFilter, limit: int) -> builtins.list[Any]:
        if flt == ArticleFilter():
            # No filter: rank inside the FTS index and join only the rows kept (joining every match before
            # the sort cost a third of the search when a question's words occur in most chunks).
            sql = """SELECT c.id AS chunk_id, t.rank FROM (
                SELECT rowid, bm25(chunks_fts, 0.5, 1.0) AS rank FROM chunks_fts
                WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?) t
                JOIN chunks c ON c.rowid = t.rowid ORDER BY t.rank"""
            return conn.execute(sql, [match, limit]).fetchall()
        where, params = flt.sql()
        sql = f"""SELECT c.id AS chunk_id, bm25(chunks_fts, 0.5, 1.0) AS rank
            FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
            JOIN articles a ON a.id = c.article_id
            WHERE chunks_fts MATCH ? AND {where}
            ORDER BY rank LIMIT ?"""
        return conn.execute(sql, [match, *params, limit]).fetchall()

    def _without_common_words(self, conn: sqlite3.Connection, match: str) -> tuple[str, int] | None:
        """The OR-query without its words in at least half of all rows, and how many were left out; None when
        none or all are, or when the index's row count is not the chunks' (then nothing is assumed)."""
        terms = match.split(" OR ")
        if len(terms) < 2:
            return None
        total = _fts_rows(conn)
        if total is None or total != conn.execute("SELECT count(*) FROM chunks").fetchone()[0]:
            return None
        count = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"
        kept = [t for t in terms if 2 * conn.execute(count, [t]).fetchone()[0] < total]
        if not kept or len(kept) == len(terms):
            return None
        return " OR ".join(kept), len(terms) - len(kept)
