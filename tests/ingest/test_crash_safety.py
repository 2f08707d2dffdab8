"""Crash safety: `newsrag ingest` killed with SIGKILL half-way, then run again, ends in exactly the state of
one clean run (same articles, same chunks in Chroma and the catalog, the same sentence vectors beside them,
no duplicates, no orphans)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.ingest import generate_corpus, write_corpus
from ingest.loaders import load
from ingest.pipeline import ingest
from rag.embeddings import Embedder
from rag.models import IngestReport
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store
from rag.text import sentence_spans
from tests.ingest.helpers import NEWSRAG, cli_env

pytestmark = [pytest.mark.slow, pytest.mark.integration]

N_ARTICLES = 100
# The real CLI, with small write batches so a run has many commit points to be killed between.
SMALL_BATCH_CLI = (
    "import sys, ingest.pipeline as p; p.BATCH_CHUNKS = 8; from api.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Short generated news articles (one or two chunks each), every 20th a syndicated copy of the one
    before it under another URL."""
    records = generate_corpus(N_ARTICLES, seed=99, min_words=40, max_words=120)
    for i in range(20, N_ARTICLES, 20):
        records[i] = {**records[i - 1], "url": f"https://partner.example/wire/{i}", "source": "Partner Wire"}
    return write_corpus(tmp_path_factory.mktemp("crash") / "corpus.jsonl", records)


def _open(data_dir: Path, embedder: Embedder) -> Runtime:
    settings = Settings(_env_file=None, data_dir=data_dir)
    return Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))


@dataclass(frozen=True)
class Snapshot:
    articles: dict[str, tuple[Any, ...]]
    aliases: dict[str, str]
    catalog_chunks: dict[str, tuple[Any, ...]]
    chroma_chunks: dict[str, tuple[Any, ...]]
    fts_rows: int
    chroma_count: int
    sentence_rows: dict[str, int]  # chunk id -> sentences with a stored vector
    # The vectors themselves, compared with a tolerance: batches of a resumed run differ from a clean run's,
    # and the last bits of a float sum with them.
    sentence_vectors: dict[str, np.ndarray] = field(compare=False)


def snapshot(data_dir: Path, embedder: Embedder) -> Snapshot:
    rt = _open(data_dir, embedder)
    try:
        got = rt.store.vectors._collection.get(include=["metadatas", "documents"])
        ids = list(got["ids"])
        assert len(ids) == len(set(ids)), "duplicate chunk ids in Chroma"
        chroma = {
            cid: (m["article_id"], m["index"], m["start"], m["end"], m["content_hash"], doc)
            for cid, m, doc in zip(ids, got["metadatas"], got["documents"], strict=True)
        }
        count = rt.store.vectors.count()
    finally:
        rt.close()
    with sqlite3.connect(data_dir / "catalog-newsrag.sqlite3") as conn:
        articles = {
            r[0]: tuple(r[1:])
            for r in conn.execute("SELECT id, content_hash, body_hash, alt_urls, n_chunks, title FROM articles")
        }
        aliases = dict(conn.execute("SELECT alias_id, article_id FROM aliases").fetchall())
        chunks = {r[0]: tuple(r[1:]) for r in conn.execute("SELECT id, article_id, idx, start, end FROM chunks")}
        fts = conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
        sentences = {
            r[0]: np.frombuffer(r[3], dtype=np.float16).reshape(r[1], r[2]).astype(np.float32)
            for r in conn.execute("SELECT chunk_id, n, dim, vectors FROM chunk_sentences")
        }
    return Snapshot(
        articles, aliases, chunks, chroma, fts, count, {k: v.shape[0] for k, v in sentences.items()}, sentences
    )


def assert_same_sentence_vectors(state: Snapshot, reference: Snapshot) -> None:
    for chunk_id, rows in reference.sentence_vectors.items():
        assert np.allclose(state.sentence_vectors[chunk_id], rows, atol=2e-3), chunk_id


def assert_clean(state: Snapshot) -> None:
    """Internally consistent: Chroma and the catalog agree chunk by chunk, nothing orphaned or doubled."""
    assert set(state.chroma_chunks) == set(state.catalog_chunks)
    assert state.chroma_count == len(state.chroma_chunks) == len(state.catalog_chunks) == state.fts_rows
    assert set(a for a, *_ in state.catalog_chunks.values()) <= set(state.articles)
    assert sum(a[3] for a in state.articles.values()) == len(state.catalog_chunks)
    for cid, (article_id, idx, start, end) in state.catalog_chunks.items():
        assert state.chroma_chunks[cid][:4] == (article_id, idx, start, end)
        assert state.chroma_chunks[cid][4] == state.articles[article_id][0]  # current version only
    # Every chunk has one stored vector per sentence of its text, and nothing else has any.
    assert set(state.sentence_rows) == set(state.catalog_chunks)
    for cid, n in state.sentence_rows.items():
        assert n == len(sentence_spans(state.chroma_chunks[cid][5])), cid
    positions = [(a, i) for a, i, *_ in state.catalog_chunks.values()]
    assert len(positions) == len(set(positions))
    assert set(state.aliases.values()) <= set(state.articles)


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or busy: poll again


def catalog_rows(data_dir: Path) -> int:
    return _count(data_dir / "catalog-newsrag.sqlite3", "SELECT count(*) FROM articles")


def chroma_log_rows(data_dir: Path) -> int:
    """Rows Chroma has logged (its write-ahead queue plus applied embeddings)."""
    return _count(
        data_dir / "chroma" / "chroma.sqlite3",
        "SELECT (SELECT count(*) FROM embeddings_queue) + (SELECT count(*) FROM embeddings)",
    )


def kill_midway(argv: list[str], data_dir: Path, when: Callable[[], bool], timeout: float = 150) -> tuple[int, int]:
    """Start an ingest, SIGKILL it as soon as `when()` holds; return (catalog, chroma) rows at the kill."""
    process = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(data_dir),
        cwd=data_dir.parent,
    )
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if when():
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        rows = (catalog_rows(data_dir), chroma_log_rows(data_dir))
    finally:
        if process.poll() is None and not process.returncode:
            process.kill()  # only reached when the condition never held in time (or the test failed)
        _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, (
        f"the ingest was not killed mid-way (exit {process.returncode}); stderr:\n{err.decode()[-2000:]}"
    )
    return rows


def resume(data_dir: Path, corpus: Path, embedder: Embedder) -> IngestReport:
    """Run the same ingest again to completion (in this process: the killed one was the real CLI)."""
    rt = _open(data_dir, embedder)
    try:
        report = ingest(load(corpus), rt.store, rt.embedder, rt.settings)
    finally:
        rt.close()
    assert report.failed == ()
    return report


def test_sigkill_midway_then_rerun_equals_one_clean_run(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    # Reference: one clean, uninterrupted run.
    ref_dir = tmp_path / "ref"
    rt = _open(ref_dir, embedder)
    try:
        clean = ingest(load(corpus), rt.store, rt.embedder, rt.settings)
    finally:
        rt.close()
    assert clean.failed == () and clean.duplicates == N_ARTICLES // 20 - 1
    assert clean.added == N_ARTICLES - clean.duplicates
    reference = snapshot(ref_dir, embedder)
    assert_clean(reference)
    total = clean.added

    # 1. The real `newsrag` binary with its default batches (one batch here), killed at the first sign of
    #    a write. Vectors go first, so this lands after the Chroma write and before the catalog commit.
    one = tmp_path / "kill-at-first-write"
    rows = kill_midway(
        [str(NEWSRAG), "ingest", str(corpus), "--json"],
        one,
        lambda: chroma_log_rows(one) > 0 or catalog_rows(one) > 0,
    )
    assert rows[0] < total, f"(catalog rows, chroma rows) at the kill: {rows}"
    report = resume(one, corpus, embedder)
    assert report.added + report.unchanged + report.duplicates == N_ARTICLES
    state = snapshot(one, embedder)
    assert state == reference
    assert_same_sentence_vectors(state, reference)

    # 2-3. Small write batches, killed after about a third and two thirds of the articles are committed.
    runs: list[tuple[int, int]] = []
    for fraction in (0.3, 0.7):
        data_dir = tmp_path / f"kill-at-{int(fraction * 100)}"
        threshold = int(total * fraction)
        runs.append(
            kill_midway(
                [sys.executable, "-c", SMALL_BATCH_CLI, "ingest", str(corpus), "--json"],
                data_dir,
                lambda d=data_dir, t=threshold: catalog_rows(d) >= t,  # type: ignore[misc]
            )
        )
        assert 0 < runs[-1][0] < total, runs[-1]
        report = resume(data_dir, corpus, embedder)
        assert report.added + report.unchanged + report.duplicates == N_ARTICLES
        assert report.unchanged >= runs[-1][0]  # what was committed is not redone
        state = snapshot(data_dir, embedder)
        assert_clean(state)
        assert state == reference
        assert_same_sentence_vectors(state, reference)

    # And the repaired store is stable: one more run changes nothing.
    rt = _open(tmp_path / "kill-at-70", embedder)
    try:
        again = ingest(load(corpus), rt.store, rt.embedder, rt.settings)
    finally:
        rt.close()
    assert (again.added, again.updated, again.chunks) == (0, 0, 0)
    assert again.unchanged == N_ARTICLES
    print(json.dumps({"killed_at_rows": [rows, *runs], "articles": total, "chunks": len(reference.chroma_chunks)}))
