"""The ingest pipeline against real embedded Chroma and the real model: idempotent, no orphans, deletes,
syndicated duplicates, and bad items that never sink a batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ingest.loaders import LoadedItem, load, load_many
from ingest.pipeline import Ingestor, ingest
from ingest.validate import RawArticle, validate
from rag.catalog import ArticleFilter
from rag.embeddings import Embedder
from rag.models import Article, IngestReport
from rag.runtime import Runtime
from rag.settings import Settings
from rag.store import make_store
from tests.ingest.helpers import SAMPLE_COUNT, SAMPLES, write_jsonl


@dataclass
class CountingEmbedder:
    """The real embedder, with a tally of how many texts it was asked to embed (a spy, not a mock)."""

    inner: Embedder
    embedded: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.embedded.append(len(texts))
        return self.inner.embed_with_sentences(texts, spans)  # type: ignore[attr-defined]

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def run(rt: Runtime, items: Iterable[LoadedItem], embedder: Embedder | None = None) -> IngestReport:
    return ingest(items, rt.store, embedder or rt.embedder, rt.settings)


def items_of(*articles: Article, path: str = "batch.jsonl") -> list[LoadedItem]:
    return [LoadedItem(path, f"line {n}", article=a) for n, a in enumerate(articles, start=1)]


def make_article(title: str, paragraphs: int, url: str | None = None, salt: str = "", **extra: object) -> Article:
    body = "\n\n".join(
        f"Paragraph {p} of {title}{salt}. The regional transport authority said ridership rose by "
        f"{p + 3} percent over the year, while fares stayed flat. Officials expect the new line to open in "
        f"{2025 + p % 3}. "
        f"Critics said the project was {p * 12} million euros over budget and two years late."
        for p in range(paragraphs)
    )
    return validate(RawArticle(title=title, body=body, url=url, source="Metro Daily", **extra), 10**6)


def catalog_chunk_ids(rt: Runtime, article_id: str | None = None) -> set[str]:
    """Chunk ids the catalog holds, read straight from its SQLite file."""
    with sqlite3.connect(rt.store.catalog.path) as conn:
        if article_id is None:
            rows = conn.execute("SELECT id FROM chunks").fetchall()
        else:
            rows = conn.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,)).fetchall()
    return {r[0] for r in rows}


def chroma_ids(rt: Runtime) -> set[str]:
    collection = rt.store.vectors._collection
    return set(collection.get(include=[])["ids"])


def assert_consistent(rt: Runtime) -> None:
    """Chroma and the catalog describe exactly the same chunks, and every chunk belongs to an article."""
    ids = chroma_ids(rt)
    assert ids == catalog_chunk_ids(rt)
    assert rt.store.vectors.count() == rt.store.catalog.chunk_count() == len(ids)
    with sqlite3.connect(rt.store.catalog.path) as conn:
        orphans = conn.execute(
            "SELECT count(*) FROM chunks c LEFT JOIN articles a ON a.id = c.article_id WHERE a.id IS NULL"
        ).fetchone()[0]
        n_chunks = conn.execute("SELECT coalesce(sum(n_chunks), 0) FROM articles").fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert orphans == 0
    assert n_chunks == len(ids) == fts


def test_samples_ingest_then_rerun_is_all_unchanged(runtime: Runtime) -> None:
    first = run(runtime, load(SAMPLES))
    assert (first.added, first.updated, first.unchanged, first.duplicates, first.failed) == (
        SAMPLE_COUNT,
        0,
        0,
        0,
        (),
    )
    assert first.chunks == runtime.store.vectors.count() > SAMPLE_COUNT
    assert runtime.store.catalog.count() == SAMPLE_COUNT
    assert_consistent(runtime)

    spy = CountingEmbedder(runtime.embedder)
    second = run(runtime, load(SAMPLES), embedder=spy)
    assert (second.added, second.updated, second.unchanged, second.chunks) == (0, 0, SAMPLE_COUNT, 0)
    assert sum(spy.embedded) == 0  # nothing re-embedded
    assert runtime.store.vectors.count() == first.chunks
    assert_consistent(runtime)


def test_stored_metadata_supports_filters_and_citations(runtime: Runtime) -> None:
    run(runtime, load(SAMPLES))
    got = runtime.store.vectors._collection.get(include=["metadatas", "documents"])
    catalog = runtime.store.catalog
    for cid, meta, doc in zip(got["ids"], got["metadatas"], got["documents"], strict=True):
        article = catalog.get(str(meta["article_id"]))
        assert article is not None
        assert article.body[int(meta["start"]) : int(meta["end"])] == doc
        assert meta["title"] == article.title and meta["source"] == article.source
        assert article.published_at is not None
        assert meta["published_ts"] == int(article.published_at.timestamp())
        assert cid == f"{article.id}:{int(meta['index']):04d}"


def test_changed_article_replaces_its_chunks_without_orphans(runtime: Runtime) -> None:
    url = "https://metro.example/line-4"
    long_version = make_article("New metro line", 14, url=url)
    other = make_article("Unrelated story", 3, url="https://metro.example/other")
    first = run(runtime, items_of(long_version, other))
    assert first.added == 2
    old_ids = runtime.store.vectors.ids_for(long_version.id)
    assert len(old_ids) >= 4

    # A correction: same URL (same id), much shorter body.
    short_version = make_article("New metro line", 2, url=url, salt=" (corrected)")
    assert short_version.id == long_version.id
    second = run(runtime, items_of(short_version, other))
    assert (second.added, second.updated, second.unchanged) == (0, 1, 1)
    new_ids = runtime.store.vectors.ids_for(long_version.id)
    assert set(new_ids) == catalog_chunk_ids(runtime, long_version.id)
    assert 1 <= len(new_ids) < len(old_ids)
    stored = runtime.store.vectors._collection.get(ids=new_ids, include=["documents", "metadatas"])
    assert all("(corrected)" in doc for doc in stored["documents"])
    assert {m["content_hash"] for m in stored["metadatas"]} == {
        short_version.content_hash(Ingestor(runtime.store, runtime.embedder, runtime.settings).salt)
    }
    article = runtime.store.catalog.get(long_version.id)
    assert article is not None and article.body == short_version.body
    assert_consistent(runtime)

    # And growing again adds chunks back, still with no leftovers.
    regrown = make_article("New metro line", 10, url=url, salt=" (second update)")
    third = run(runtime, items_of(regrown))
    assert third.updated == 1
    assert set(runtime.store.vectors.ids_for(regrown.id)) == catalog_chunk_ids(runtime, regrown.id)
    assert runtime.store.catalog.count() == 2
    assert_consistent(runtime)


def test_metadata_change_alone_is_an_update(runtime: Runtime) -> None:
    a = make_article("Tram fares", 3, url="https://metro.example/tram", published_at="2024-05-01")
    run(runtime, items_of(a))
    b = make_article("Tram fares", 3, url="https://metro.example/tram", published_at="2024-05-02")
    report = run(runtime, items_of(b))
    assert report.updated == 1
    got = runtime.store.vectors._collection.get(ids=runtime.store.vectors.ids_for(a.id), include=["metadatas"])
    assert b.published_at is not None
    assert {m["published_ts"] for m in got["metadatas"]} == {int(b.published_at.timestamp())}
    assert_consistent(runtime)


def test_delete_removes_article_chunks_and_keywords(runtime: Runtime) -> None:
    run(runtime, load(SAMPLES))
    catalog = runtime.store.catalog
    hits = catalog.keyword_search("Firefly Blue Ghost lander Moon", ArticleFilter(), 5)
    assert hits
    target = catalog.chunks_of([hits[0][0]])[hits[0][0]].article_id
    assert catalog.get(target) is not None and runtime.store.vectors.ids_for(target)
    before = runtime.store.vectors.count()
    n_target = len(runtime.store.vectors.ids_for(target))

    assert runtime.store.delete(target) is True
    assert catalog.get(target) is None
    assert runtime.store.vectors.ids_for(target) == []
    assert catalog_chunk_ids(runtime, target) == set()
    assert runtime.store.vectors.count() == before - n_target
    assert catalog.count() == SAMPLE_COUNT - 1
    remaining = catalog.keyword_search("Firefly Blue Ghost lander Moon", ArticleFilter(), 50)
    assert all(catalog.chunks_of([cid])[cid].article_id != target for cid, _ in remaining)
    assert_consistent(runtime)
    # Dense search cannot find it either.
    vector = runtime.embedder.embed_query("Firefly Blue Ghost lander touches down on the Moon")
    assert all(m.article_id != target for m in runtime.store.vectors.query(vector, ArticleFilter(), 20))

    assert runtime.store.delete(target) is False  # already gone
    again = run(runtime, load(SAMPLES))  # and a re-ingest brings back exactly that one
    assert (again.added, again.unchanged) == (1, SAMPLE_COUNT - 1)
    assert_consistent(runtime)


def test_syndicated_copy_is_one_article_with_alt_urls(runtime: Runtime, tmp_path: Path) -> None:
    original = make_article("Port strike ends", 4, url="https://metro.example/port-strike")
    body = "  " + original.body.replace("\n\n", "\n\n  ").upper() + "  "  # same text, other spacing/case
    copy = validate(
        RawArticle(
            title="Port strike ends (wire copy)",
            body=body,
            url="https://partner.example/wire/123",
            source="Partner News",
        ),
        10**6,
    )
    assert copy.id != original.id and copy.body_hash() == original.body_hash()
    path = write_jsonl(
        tmp_path / "wire.jsonl",
        [
            {"title": original.title, "body": original.body, "url": original.url, "source": "Metro Daily"},
            {"title": copy.title, "body": body, "url": copy.url, "source": "Partner News"},
        ],
    )
    first = run(runtime, load(path))
    assert (first.added, first.duplicates, first.failed) == (1, 1, ())
    assert runtime.store.catalog.count() == 1
    stored = runtime.store.catalog.get(original.id)
    assert stored is not None and stored.alt_urls == ("https://partner.example/wire/123",)
    assert runtime.store.catalog.get(copy.id) is None
    assert runtime.store.vectors.ids_for(copy.id) == []
    assert_consistent(runtime)

    second = run(runtime, load(path))
    assert (second.added, second.updated, second.unchanged, second.duplicates, second.chunks) == (
        0,
        0,
        2,
        0,
        0,
    )

    # A third copy arriving in a later run is recognised against the store, not just the batch.
    later = write_jsonl(
        tmp_path / "later.jsonl",
        [{"title": "Strike over", "body": original.body, "url": "https://third.example/strike"}],
    )
    third = run(runtime, load(later))
    assert (third.added, third.duplicates) == (0, 1)
    stored = runtime.store.catalog.get(original.id)
    assert stored is not None
    assert set(stored.alt_urls) == {"https://partner.example/wire/123", "https://third.example/strike"}
    assert run(runtime, load_many([path, later])).unchanged == 3
    assert runtime.store.catalog.count() == 1
    assert_consistent(runtime)


def test_article_edited_into_a_copy_of_another_leaves_no_stale_version(runtime: Runtime) -> None:
    original = make_article("Harbour plan", 4, url="https://metro.example/harbour")
    other = make_article("Harbour plan, our report", 3, url="https://partner.example/harbour", salt=" own")
    run(runtime, items_of(original, other))
    assert runtime.store.vectors.ids_for(other.id)
    # The partner replaces its own report with the syndicated text: same URL (same id), original's body.
    copy = validate(RawArticle(title=other.title, body=original.body, url=other.url, source="Partner"), 10**6)
    assert copy.id == other.id
    report = run(runtime, items_of(copy))
    assert (report.duplicates, report.updated, report.added) == (1, 0, 0)
    assert runtime.store.catalog.get(other.id) is None  # its old text is not left behind as an article
    assert runtime.store.vectors.ids_for(other.id) == []
    stored = runtime.store.catalog.get(original.id)
    assert stored is not None and stored.alt_urls == ("https://partner.example/harbour",)
    assert runtime.store.catalog.count() == 1
    assert_consistent(runtime)
    assert run(runtime, items_of(original, copy)).unchanged == 2


def test_copy_rewritten_into_its_own_report_becomes_an_article(runtime: Runtime) -> None:
    original = make_article("Harbour plan", 4, url="https://metro.example/harbour")
    copy = validate(RawArticle(title="Harbour plan", body=original.body, url="https://partner.example/h"), 10**6)
    assert run(runtime, items_of(original, copy)).duplicates == 1
    # The partner rewrites its copy into a report of its own: it is now an article, stored once.
    own = make_article("Harbour plan, our report", 3, url="https://partner.example/h", salt=" own")
    assert own.id == copy.id
    report = run(runtime, items_of(own))
    assert (report.added + report.updated, report.duplicates) == (1, 0)
    assert runtime.store.catalog.get(own.id) is not None
    assert runtime.store.vectors.ids_for(own.id)
    assert runtime.store.catalog.count() == 2
    kept = runtime.store.catalog.get(original.id)
    assert kept is not None and kept.alt_urls == ()
    assert_consistent(runtime)
    assert run(runtime, items_of(original, own)).unchanged == 2


def test_bad_items_never_sink_the_batch(runtime: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = [make_article(f"Story {n}", 2, url=f"https://metro.example/s{n}") for n in range(6)]

    def rec(a: Article) -> dict[str, object]:
        return {"title": a.title, "body": a.body, "url": a.url, "source": a.source}

    write_jsonl(
        folder / "batch.jsonl",
        [
            rec(good[0]),
            "{not json",
            {"title": "No body"},
            rec(good[1]),
            b'{"title": "bad bytes \xff", "body": "x"}',
            {"title": "Bad date", "body": "Some text.", "date": "yesterday-ish"},
            rec(good[2]),
            rec(good[2]) | {"title": "Same url again"},
        ],
    )
    (folder / "binary.md").write_bytes(b"\x00\x01\x02\x03" * 50)
    (folder / "ok.md").write_text(f"# {good[3].title}\n\n{good[3].body}\n")
    write_jsonl(folder / "more.jsonl", [rec(good[4]), rec(good[5])])

    report = run(runtime, load(folder))
    assert report.added == 6
    failures = {(Path(f.path).name, f.item): f.error for f in report.failed}
    assert set(failures) == {
        ("batch.jsonl", "line 2"),
        ("batch.jsonl", "line 3"),
        ("batch.jsonl", "line 5"),
        ("batch.jsonl", "line 6"),
        ("batch.jsonl", "line 8"),
        ("binary.md", None),
    }
    assert "malformed JSON" in failures[("batch.jsonl", "line 2")]
    assert "empty body" in failures[("batch.jsonl", "line 3")]
    assert "invalid UTF-8" in failures[("batch.jsonl", "line 5")]
    assert "cannot parse" in failures[("batch.jsonl", "line 6")]
    assert "same article id" in failures[("batch.jsonl", "line 8")]
    assert "binary" in failures[("binary.md", None)]
    assert runtime.store.catalog.count() == 6
    assert_consistent(runtime)


def test_many_articles_span_several_write_batches(runtime: Runtime) -> None:
    # Small write batches, so batch boundaries (and several embed/write rounds) are exercised cheaply.
    articles = [make_article(f"Batch story {n}", 3, url=f"https://metro.example/b{n}") for n in range(24)]
    spy = CountingEmbedder(runtime.embedder)
    report = Ingestor(runtime.store, spy, runtime.settings, batch_chunks=4).run(items_of(*articles))
    assert report.added == 24 and report.failed == ()
    assert len(spy.embedded) >= 3, spy.embedded
    assert sum(spy.embedded) == report.chunks == runtime.store.vectors.count()
    assert_consistent(runtime)
    # Change two of them: exactly those are re-embedded.
    changed = {
        a.id: a
        for a in (make_article(f"Batch story {n}", 1, url=f"https://metro.example/b{n}", salt="!") for n in (5, 17))
    }
    spy2 = CountingEmbedder(runtime.embedder)
    mixed = [changed.get(a.id, a) for a in articles]
    report2 = Ingestor(runtime.store, spy2, runtime.settings, batch_chunks=4).run(items_of(*mixed))
    assert (report2.updated, report2.unchanged) == (2, 22)
    assert sum(spy2.embedded) == report2.chunks == 2
    assert_consistent(runtime)


@pytest.mark.slow
def test_new_chunk_settings_reembed_everything(runtime: Runtime, embedder: Embedder, tmp_path: Path) -> None:
    run(runtime, load(SAMPLES))
    before = chroma_ids(runtime)
    runtime.close()
    settings = Settings(_env_file=None, data_dir=runtime.settings.data_dir, chunk_size=96, chunk_overlap=0)
    rt = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
    try:
        report = run(rt, load(SAMPLES))
        assert (report.updated, report.unchanged) == (SAMPLE_COUNT, 0)
        assert rt.store.vectors.count() > len(before)  # smaller chunks, more of them; old ones pruned
        assert_consistent(rt)
    finally:
        rt.close()
