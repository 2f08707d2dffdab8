"""The catalog in PostgreSQL (NEWSRAG_CATALOG_URL=postgresql://...), for several API hosts sharing one.

Same contract as the SQLite `Catalog` (tests/rag/test_catalog_contract.py runs one suite on both). Each
collection has its own schema, named after it, as each collection has its own SQLite file.

Writers on several hosts are serialised by one transaction-scoped advisory lock per schema, as SQLite's
`BEGIN IMMEDIATE` serialises writers on one host: a catalog write is a few milliseconds after seconds of
embedding, so nothing is gained by finer locks, and one lock cannot deadlock. Rows are upserts
(`ON CONFLICT`), so two hosts committing the same article leave one row. Reads never wait for the lock.
A writer killed half-way loses its open transaction: crash safety is the same as with SQLite.

Keyword search is BM25 as FTS5 computes it (k1 1.2, b 0.75, title weighted 0.5 against the text's 1.0,
IDF over all chunks). Each chunk's title and text become a tsvector (the `english` configuration: Snowball
stemming where FTS5 has Porter, its stopwords; diacritics folded in Python as FTS5's `remove_diacritics`
does), and its lexemes become postings in `chunk_terms` (lexeme, chunk, weighted frequency), so a query
reads the postings of its own words only. A chunk matches when it holds any of `fts_query`'s words (an OR,
as in FTS5; a hyphenated word counts as its parts, where FTS5 wants them side by side). Scoring each
matching chunk's tsvector in SQL was 2.5 times slower at 5,000 chunks, and `ts_rank_cd` was not used: it
has no IDF, so on an OR of a question's words the most common words would decide the order.
"""

from __future__ import annotations

import builtins
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from rag.catalog import (
    ARTICLE_TABLES,
    ArticleFilter,
    ArticleState,
    ChunkView,
    Commit,
    CommittingCatalog,
    StoredChunk,
    article_from_row,
    article_row,
    article_states,
    chunk_view,
    edited_alt_urls,
    from_ts,
    fts_query,
    kept_alt_urls,
    sentence_array,
    sentence_row,
)
from rag.errors import StoreUnavailable
from rag.models import Article, Chunk

POOL_MAX = 10  # connections per process: the API's worker threads and the keyword search share them
CONNECT_TIMEOUT = 10.0
LOCK_NAMESPACE = 0x6E72  # 'nr': the first key of our advisory locks, the schema's hash is the second
TS_CONFIG = "english"
BM25_K1, BM25_B = 1.2, 0.75
TITLE_WEIGHT = 0.5  # FTS5's bm25(chunks_fts, 0.5, 1.0): titles are stored with weight B, text with A

SCHEMA = (
    ARTICLE_TABLES
    + """CREATE INDEX IF NOT EXISTS articles_source ON articles(lower(source));
CREATE INDEX IF NOT EXISTS aliases_article ON aliases(article_id);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    tsv TSVECTOR NOT NULL,
    doc_len INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
-- The keyword index: one posting per lexeme of a chunk's tsvector, with its weighted frequency, so a query
-- reads only the postings of its own words (as FTS5 does) instead of every matching chunk's tsvector.
CREATE TABLE IF NOT EXISTS chunk_terms (
    lexeme TEXT NOT NULL,
    chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    tf REAL NOT NULL,
    doc_len INTEGER NOT NULL,
    PRIMARY KEY (lexeme, chunk_id) INCLUDE (tf, doc_len)
);
CREATE INDEX IF NOT EXISTS chunk_terms_chunk ON chunk_terms(chunk_id);
-- The vectors of a chunk's sentences (split by rag.text.sentence_spans over the chunk's text, in text order):
-- n rows of dim float16 values, written with the chunk and removed with it (as in the SQLite catalog).
CREATE TABLE IF NOT EXISTS chunk_sentences (
    chunk_id TEXT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    vectors BYTEA NOT NULL
);
-- BM25 needs the chunk count and their mean length on every query: kept here by each write.
CREATE TABLE IF NOT EXISTS chunk_stats (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    chunks BIGINT NOT NULL,
    tokens BIGINT NOT NULL
);
INSERT INTO chunk_stats(one, chunks, tokens) VALUES (TRUE, 0, 0) ON CONFLICT DO NOTHING;
"""
)

INSERT_CHUNK = f"""
INSERT INTO chunks(id, article_id, idx, char_start, char_end, tsv, doc_len)
SELECT %s, %s, %s, %s, %s, v.tsv, (SELECT coalesce(sum(cardinality(u.positions)), 0) FROM unnest(v.tsv) u)
FROM (SELECT setweight(to_tsvector('{TS_CONFIG}', %s), 'B') || setweight(to_tsvector('{TS_CONFIG}', %s), 'A')
      AS tsv) v
"""

INSERT_TERMS = f"""
INSERT INTO chunk_terms(lexeme, chunk_id, tf, doc_len)
SELECT u.lexeme, c.id, (SELECT sum(CASE WHEN w = 'B' THEN {TITLE_WEIGHT} ELSE 1.0 END) FROM unnest(u.weights) w),
       c.doc_len
FROM chunks c CROSS JOIN LATERAL unnest(c.tsv) u WHERE c.article_id = %s
"""

KEYWORD_SEARCH = f"""
WITH terms AS MATERIALIZED (  -- each word's document frequency counted once, not once per posting
    SELECT q.lexeme, (SELECT count(*) FROM chunk_terms p WHERE p.lexeme = q.lexeme) AS df
    FROM unnest(tsvector_to_array(to_tsvector('{TS_CONFIG}', %(words)s))) AS q(lexeme)
),
stats AS (SELECT chunks AS n, greatest(tokens, 1)::float8 / greatest(chunks, 1) AS avgdl FROM chunk_stats),
scored AS (
    SELECT p.chunk_id,
           sum(greatest(ln((s.n - t.df + 0.5) / (t.df + 0.5)), 1e-6)
               * p.tf * ({BM25_K1} + 1) / (p.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * p.doc_len / s.avgdl))) AS score
    FROM terms t JOIN chunk_terms p ON p.lexeme = t.lexeme CROSS JOIN stats s
    GROUP BY p.chunk_id
)
SELECT sc.chunk_id, sc.score FROM scored sc {{join}}
ORDER BY sc.score DESC, sc.chunk_id
LIMIT %(limit)s
"""
FILTER_JOIN = "JOIN chunks c ON c.id = sc.chunk_id JOIN articles a ON a.id = c.article_id WHERE {where}"


def fold(text: str) -> str:
    """Diacritics dropped ('café' finds 'cafe'), as FTS5's remove_diacritics does."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def redact(url: str) -> str:
    """The URL without its password, for status output and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def pg_where(flt: ArticleFilter, alias: str = "a") -> tuple[str, dict[str, Any]]:
    """`ArticleFilter.sql` for PostgreSQL: named parameters, arrays for IN lists."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if flt.sources:
        clauses.append(f"lower({alias}.source) = ANY(%(f_sources)s)")
        params["f_sources"] = [s.lower() for s in flt.sources]
    if flt.since_ts is not None:
        clauses.append(f"{alias}.published_ts >= %(f_since)s")
        params["f_since"] = flt.since_ts
    if flt.until_ts is not None:
        clauses.append(f"{alias}.published_ts <= %(f_until)s")
        params["f_until"] = flt.until_ts
    if flt.article_ids:
        clauses.append(f"{alias}.id = ANY(%(f_ids)s)")
        params["f_ids"] = list(flt.article_ids)
    return (" AND ".join(clauses) or "TRUE"), params


class PgCatalog(CommittingCatalog[psycopg.Connection[Any]]):
    """The catalog of one collection in its own schema of a PostgreSQL database, through a pool."""

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": int(CONNECT_TIMEOUT)},
            configure=self._configure,
            check=ConnectionPool.check_connection,  # a restarted server: drop dead connections, not requests
            timeout=CONNECT_TIMEOUT,
            open=False,
            name=f"newsrag-catalog-{schema}",
        )
        try:
            self._create_schema()  # on a connection of its own first: a refused connection fails at once
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot reach the catalog database {redact(url)}: {_one_line(exc)}") from exc
        except BaseException:
            self._pool.close()
            raise

    def _create_schema(self) -> None:
        """Idempotent, and under the write lock: two hosts starting at once would race on CREATE."""
        with psycopg.connect(self.url, connect_timeout=int(CONNECT_TIMEOUT)) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, self.schema))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            self._configure(conn)
            conn.execute(SCHEMA)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        # The planner misestimates the keyword query's rows and would JIT-compile it: 80 ms of compiling
        # for a few ms of work.
        conn.execute("SET jit = off")

    @property
    def location(self) -> str:
        return f"{redact(self.url)} (schema {self.schema})"

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a server that cannot be reached is StoreUnavailable, as a Chroma outage is."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise StoreUnavailable(f"the catalog database {redact(self.url)} failed: {_one_line(exc)}") from exc

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """A write transaction holding this schema's advisory lock until it commits or rolls back."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, self.schema))
            yield conn

    def _rows(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> builtins.list[dict[str, Any]]:
        with self._conn() as conn:
            return conn.execute(query, params).fetchall()

    def close(self) -> None:
        self._pool.close()

    # --- bookkeeping ---
    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=%s", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    def reset(self) -> None:
        """Forget everything: used when the catalog no longer matches the Chroma collection."""
        with self._tx() as conn:
            conn.execute("TRUNCATE chunk_terms, chunk_sentences, chunks, aliases, articles, meta")
            conn.execute("UPDATE chunk_stats SET chunks = 0, tokens = 0")

    # --- ingest ---
    def states(self, ids: Sequence[str]) -> dict[str, ArticleState]:
        """Stored content hash per id, following aliases of syndicated copies."""
        if not ids:
            return {}
        articles = self._rows("SELECT id, content_hash FROM articles WHERE id = ANY(%s)", (list(ids),))
        aliases = self._rows(
            "SELECT alias_id, article_id, content_hash FROM aliases WHERE alias_id = ANY(%s)", (list(ids),)
        )
        return article_states(articles, aliases)

    def find_body(self, body_hash: str) -> str | None:
        rows = self._rows("SELECT id FROM articles WHERE body_hash=%s ORDER BY id LIMIT 1", (body_hash,))
        return rows[0]["id"] if rows else None

    def _write_article(
        self, conn: psycopg.Connection[Any], article: Article, chunks: Sequence[Chunk], commit: Commit
    ) -> None:
        old = conn.execute("SELECT alt_urls, content_hash FROM articles WHERE id=%s", (article.id,)).fetchone()
        alt_urls = kept_alt_urls(old, article)
        if old is not None and old["content_hash"] != article.content_hash(commit.salt):
            # A new version: its copies were copies of the old text (SQLite's REPLACE drops them too).
            # The same version written again (by another host, or to add sentence vectors) keeps them.
            conn.execute("DELETE FROM aliases WHERE article_id=%s", (article.id,))
        conn.execute(
            """INSERT INTO articles(id, content_hash, body_hash, title, body, url, source, author,
            published_ts, published_at, updated_at, category, tags, alt_urls, origin, n_chunks,
            ingested_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
            ON CONFLICT (id) DO UPDATE SET content_hash=EXCLUDED.content_hash,
            body_hash=EXCLUDED.body_hash, title=EXCLUDED.title, body=EXCLUDED.body, url=EXCLUDED.url,
            source=EXCLUDED.source, author=EXCLUDED.author, published_ts=EXCLUDED.published_ts,
            published_at=EXCLUDED.published_at, updated_at=EXCLUDED.updated_at,
            category=EXCLUDED.category, tags=EXCLUDED.tags, alt_urls=EXCLUDED.alt_urls,
            origin=EXCLUDED.origin, n_chunks=EXCLUDED.n_chunks, ingested_at=EXCLUDED.ingested_at""",
            article_row(article, commit.salt, alt_urls, len(chunks), commit.now),
        )
        if not chunks:
            return
        with conn.cursor() as cur:
            cur.executemany(
                INSERT_CHUNK,
                [(c.id, article.id, c.index, c.start, c.end, fold(article.title), fold(c.text)) for c in chunks],
            )
        rows = [(c.id, commit.sentences[c.id]) for c in chunks if c.id in commit.sentences]
        if rows:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO chunk_sentences(chunk_id, n, dim, vectors) VALUES (%s,%s,%s,%s)",
                    [(cid, *sentence_row(v)) for cid, v in rows],
                )
        conn.execute(INSERT_TERMS, (article.id,))
        conn.execute(
            """UPDATE chunk_stats SET chunks = chunks + s.n, tokens = tokens + s.len
            FROM (SELECT count(*) AS n, coalesce(sum(doc_len), 0) AS len FROM chunks WHERE article_id=%s) s""",
            (article.id,),
        )

    def lacking_sentences(self, article_ids: Sequence[str]) -> set[str]:
        """Stored articles with a chunk that has no sentence vectors (stores written before they existed)."""
        if not article_ids:
            return set()
        found = self._rows(
            """SELECT DISTINCT c.article_id FROM chunks c LEFT JOIN chunk_sentences s ON s.chunk_id = c.id
            WHERE c.article_id = ANY(%s) AND s.chunk_id IS NULL""",
            (list(article_ids),),
        )
        return {r["article_id"] for r in found}

    def add_alias(self, alias_id: str, article_id: str, content_hash: str, url: str | None) -> None:
        """Record a syndicated copy: its id points at the stored article, its URL joins alt_urls."""
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO aliases(alias_id, article_id, content_hash) VALUES (%s,%s,%s)
                ON CONFLICT (alias_id) DO UPDATE SET article_id=EXCLUDED.article_id,
                content_hash=EXCLUDED.content_hash""",
                (alias_id, article_id, content_hash),
            )
            if url:
                self._edit_alt_urls(conn, article_id, add=url)

    def _drop_alias(self, conn: psycopg.Connection[Any], alias_id: str, url: str | None) -> None:
        row = conn.execute("DELETE FROM aliases WHERE alias_id=%s RETURNING article_id", (alias_id,)).fetchone()
        if row is not None and url:
            self._edit_alt_urls(conn, row["article_id"], remove=url)

    def _edit_alt_urls(
        self, conn: psycopg.Connection[Any], article_id: str, add: str | None = None, remove: str | None = None
    ) -> None:
        """Add or remove one of an article's other URLs (never its own)."""
        row = conn.execute("SELECT url, alt_urls FROM articles WHERE id=%s", (article_id,)).fetchone()
        if row is not None:
            conn.execute("UPDATE articles SET alt_urls=%s WHERE id=%s", (edited_alt_urls(row, add, remove), article_id))

    def _delete_chunks(self, conn: psycopg.Connection[Any], article_id: str) -> None:
        conn.execute(
            """WITH gone AS (DELETE FROM chunks WHERE article_id=%s RETURNING doc_len)
            UPDATE chunk_stats SET chunks = chunks - s.n, tokens = tokens - s.len
            FROM (SELECT count(*) AS n, coalesce(sum(doc_len), 0) AS len FROM gone) s""",
            (article_id,),
        )

    def delete(self, article_id: str) -> bool:
        with self._tx() as conn:
            self._delete_chunks(conn, article_id)
            conn.execute("DELETE FROM aliases WHERE article_id=%s", (article_id,))
            return conn.execute("DELETE FROM articles WHERE id=%s", (article_id,)).rowcount > 0

    # --- reading ---
    def get(self, article_id: str) -> Article | None:
        rows = self._rows("SELECT * FROM articles WHERE id=%s", (article_id,))
        return article_from_row(rows[0]) if rows else None

    def get_many(self, ids: Sequence[str]) -> dict[str, Article]:
        if not ids:
            return {}
        rows = self._rows("SELECT * FROM articles WHERE id = ANY(%s)", (list(ids),))
        return {row["id"]: article_from_row(row) for row in rows}

    def chunks_of(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        if not chunk_ids:
            return {}
        rows = self._rows(
            "SELECT id, article_id, idx, char_start, char_end FROM chunks WHERE id = ANY(%s)", (list(chunk_ids),)
        )
        return {r["id"]: StoredChunk(r["id"], r["article_id"], r["idx"], r["char_start"], r["char_end"]) for r in rows}

    def chunk_views(self, chunk_ids: Sequence[str]) -> dict[str, ChunkView]:
        """Chunks with their text cut from the article body by PostgreSQL, so no whole body leaves the catalog."""
        if not chunk_ids:
            return {}
        found = self._rows(
            """SELECT c.id, c.article_id, c.idx, c.char_start AS start, c.char_end AS "end",
            substr(a.body, c.char_start + 1, c.char_end - c.char_start) AS text, a.title, a.source, a.url,
            a.published_at FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id = ANY(%s)""",
            (list(chunk_ids),),
        )
        return {r["id"]: chunk_view(r) for r in found}

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by chunk id (float32, one row per sentence); chunks without any are absent."""
        if not chunk_ids:
            return {}
        found = self._rows(
            "SELECT chunk_id, n, dim, vectors FROM chunk_sentences WHERE chunk_id = ANY(%s)", (list(chunk_ids),)
        )
        return {r["chunk_id"]: sentence_array(r["n"], r["dim"], r["vectors"]) for r in found}

    def list(self, flt: ArticleFilter, limit: int = 100, offset: int = 0) -> builtins.list[Article]:
        where, params = pg_where(flt)
        rows = self._rows(
            f"""SELECT * FROM articles a WHERE {where}
            ORDER BY published_ts DESC NULLS LAST, id LIMIT %(limit)s OFFSET %(offset)s""",
            {**params, "limit": limit, "offset": offset},
        )
        return [article_from_row(r) for r in rows]

    def count(self, flt: ArticleFilter | None = None) -> int:
        where, params = pg_where(flt or ArticleFilter())
        return int(self._rows(f"SELECT count(*) AS n FROM articles a WHERE {where}", params)[0]["n"])

    def chunk_count(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM chunks")[0]["n"])

    def sources(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT source, count(*) AS n FROM articles WHERE source IS NOT NULL GROUP BY source "
            "ORDER BY n DESC, source"
        )
        return {r["source"]: int(r["n"]) for r in rows}

    def date_range(self) -> tuple[datetime | None, datetime | None]:
        row = self._rows("SELECT min(published_ts) AS lo, max(published_ts) AS hi FROM articles")[0]
        return from_ts(row["lo"]), from_ts(row["hi"])

    def keyword_search(self, query: str, flt: ArticleFilter, limit: int) -> builtins.list[tuple[str, float]]:
        """BM25 over chunk text and title; returns (chunk_id, score) best first (higher is better)."""
        match = fts_query(fold(query))
        if match is None:
            return []
        words = " ".join(term.strip('"') for term in match.split(" OR "))
        where, params = pg_where(flt)
        join = FILTER_JOIN.format(where=where) if params else ""  # no filter: no join
        rows = self._rows(KEYWORD_SEARCH.format(join=join), {**params, "words": words, "limit": limit})
        return [(r["chunk_id"], float(r["score"])) for r in rows]
