"""Crash safety with the catalog in PostgreSQL: `newsrag ingest` killed with SIGKILL half-way, then run again,
ends in exactly the state of one clean run (the SQLite version is tests/ingest/test_crash_safety.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ingest.loaders import load
from ingest.pipeline import ingest
from rag.embeddings import Embedder
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store
from tests.ingest.helpers import cli_env
from tests.ingest.test_crash_safety import N_ARTICLES, SMALL_BATCH_CLI, corpus  # noqa: F401 - fixture by name
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401 - fixture used by name

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@dataclass(frozen=True)
class Snapshot:
    articles: dict[str, tuple[Any, ...]]
    aliases: dict[str, str]
    chunks: dict[str, tuple[Any, ...]]
    chroma: dict[str, tuple[Any, ...]]
    stats: tuple[int, int]  # chunk_stats as kept by the writes
    counted: tuple[int, int]  # the same, counted from the chunks
    postings: int  # keyword postings (chunk_terms rows)


def settings_for(pg: PostgresServer, data_dir: Path, collection: str) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, catalog_url=pg.url, collection=collection)


def rows(pg: PostgresServer, collection: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(collection)))
        try:
            return conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


def snapshot(pg: PostgresServer, data_dir: Path, collection: str, embedder: Embedder) -> Snapshot:
    settings = settings_for(pg, data_dir, collection)
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    try:
        got = rt.store.vectors._collection.get(include=["metadatas"])
        chroma = {
            cid: (m["article_id"], m["index"], m["start"], m["end"], m["content_hash"])
            for cid, m in zip(got["ids"], got["metadatas"], strict=True)
        }
    finally:
        rt.close()
    articles = {
        r[0]: tuple(r[1:])
        for r in rows(pg, collection, "SELECT id, content_hash, body_hash, alt_urls, n_chunks, title FROM articles")
    }
    aliases = dict(rows(pg, collection, "SELECT alias_id, article_id FROM aliases"))  # type: ignore[arg-type]
    chunks = {
        r[0]: tuple(r[1:])
        for r in rows(pg, collection, "SELECT id, article_id, idx, char_start, char_end, doc_len FROM chunks")
    }
    stats = rows(pg, collection, "SELECT chunks, tokens FROM chunk_stats")[0]
    counted = rows(pg, collection, "SELECT count(*), coalesce(sum(doc_len), 0) FROM chunks")[0]
    postings = int(rows(pg, collection, "SELECT count(*) FROM chunk_terms")[0][0])
    return Snapshot(
        articles, aliases, chunks, chroma, (int(stats[0]), int(stats[1])), tuple(map(int, counted)), postings
    )  # type: ignore[arg-type]


def test_sigkill_midway_then_rerun_equals_one_clean_run(
    corpus: Path,  # noqa: F811
    postgres_server: PostgresServer,  # noqa: F811
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    pg = postgres_server
    # Reference: one clean run.
    ref = f"crash-ref-{uuid.uuid4().hex[:8]}"
    settings = settings_for(pg, tmp_path / "ref", ref)
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    try:
        clean = ingest(load(corpus), rt.store, rt.embedder, rt.settings)
    finally:
        rt.close()
    assert clean.failed == ()
    reference = snapshot(pg, tmp_path / "ref", ref, embedder)
    assert reference.stats == reference.counted and reference.postings > 0
    assert set(reference.chroma) == set(reference.chunks)

    # The real CLI with small write batches, killed once about half the articles are committed.
    killed = f"crash-kill-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "killed"
    threshold = clean.added // 2
    env = cli_env(data_dir, NEWSRAG_CATALOG_URL=pg.url, NEWSRAG_COLLECTION=killed)
    process = subprocess.Popen(
        [sys.executable, "-c", SMALL_BATCH_CLI, "ingest", str(corpus), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 150
    committed = 0
    try:
        while process.poll() is None and time.monotonic() < deadline:
            committed = len(rows(pg, killed, "SELECT id FROM articles"))
            if committed >= threshold:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            process.kill()  # killed already, or the threshold never came: the assertions below tell which
        _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert 0 < committed < clean.added

    settings = settings_for(pg, data_dir, killed)
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    try:
        report = ingest(load(corpus), rt.store, rt.embedder, rt.settings)
    finally:
        rt.close()
    assert report.failed == () and report.added + report.unchanged + report.duplicates == N_ARTICLES
    assert report.unchanged >= committed  # what was committed is not redone
    assert snapshot(pg, data_dir, killed, embedder) == reference
