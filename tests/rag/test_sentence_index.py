"""Sentence vectors written at ingest beside the chunks and read by StoredSentences: the same sentences the
answerers split, one unit vector each, with the chunks' semantics (update replaces, delete removes), and a
correct path for stores written before they existed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ingest.loaders import LoadedItem
from ingest.pipeline import Ingestor
from rag.embeddings import Embedder
from rag.models import Article, Hit, Query
from rag.retrieve import Retriever
from rag.runtime import Runtime
from rag.sentences import EmbeddedSentences, StoredSentences, chunk_sentences
from rag.text import sentence_spans

BODY = (
    "The city council approved a new budget on Tuesday after a long debate about transport spending. "
    "Officials said the plan would add twelve bus routes and repair more than forty bridges by 2027.\n\n"
    "Opposition members argued that the tax increase needed to pay for it would hurt small businesses. "
    "The mayor said the city had delayed the repairs for too long and could not wait another year."
)


def article(i: int, body: str = BODY) -> Article:
    return Article(
        id=f"art-{i}",
        title=f"Budget vote number {i}",
        body=" ".join([body] * (1 + i % 3)) + f" It was the council's vote number {i}.",
        source="Harbour Herald",
    )


def items(*articles: Article) -> list[LoadedItem]:
    return [LoadedItem("t.jsonl", str(n), article=a) for n, a in enumerate(articles)]


@dataclass
class NoModel:
    """An embedder that fails if asked for a vector: what the question path must never need."""

    inner: Embedder
    calls: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def hits_of(runtime: Runtime, question: str) -> list[Hit]:
    retriever = Retriever(runtime.store, runtime.embedder, runtime.settings)
    try:
        return retriever.retrieve(Query(question=question), k=6).hits
    finally:
        retriever.close()


def sentence_rows(runtime: Runtime) -> dict[str, int]:
    conn = runtime.store.catalog._connect()
    return {r[0]: r[1] for r in conn.execute("SELECT chunk_id, n FROM chunk_sentences")}


def chunk_texts(runtime: Runtime) -> dict[str, str]:
    catalog = runtime.store.catalog
    conn = catalog._connect()
    out = {}
    for cid, aid, start, end in conn.execute("SELECT id, article_id, start, end FROM chunks"):
        stored = catalog.get(aid)
        assert stored is not None
        out[cid] = stored.body[start:end]
    return out


def assert_index_matches_chunks(runtime: Runtime) -> None:
    texts = chunk_texts(runtime)
    assert sentence_rows(runtime) == {cid: len(sentence_spans(text)) for cid, text in texts.items()}


def test_stored_vectors_are_the_answerers_sentences_with_no_model_work(runtime: Runtime) -> None:
    report = Ingestor(runtime.store, runtime.embedder, runtime.settings).run(items(*(article(i) for i in range(6))))
    assert report.added == 6 and report.chunks > 6  # some articles span several chunks
    assert_index_matches_chunks(runtime)

    hits = hits_of(runtime, "How many bridges will the council repair?")
    assert len(hits) >= 3
    spy = NoModel(runtime.embedder)
    got = StoredSentences(runtime.store.catalog, spy).of(hits)
    assert spy.calls == []  # every hit's sentences were stored at ingest
    assert list(got.refs) == chunk_sentences(hits)
    assert got.vectors.shape == (len(got.refs), 384) and got.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(got.vectors, axis=1), 1.0, atol=1e-5)
    for ref in got.refs:  # offsets are absolute in the article body
        stored = runtime.store.catalog.get(hits[ref.hit_index].article_id)
        assert stored is not None and stored.body[ref.start : ref.end] == ref.text

    # Pooled from the chunk's own tokens, a vector stands for its sentence more than for its neighbours: on
    # average nearer to that sentence encoded alone than to the chunk's other sentences.
    alone = EmbeddedSentences(runtime.embedder).of(hits).vectors
    for i in range(len(hits)):
        rows = [j for j, r in enumerate(got.refs) if r.hit_index == i]
        similarity = got.vectors[rows] @ alone[rows].T
        own = float(np.diag(similarity).mean())
        others = float((similarity.sum() - np.trace(similarity)) / max(1, similarity.size - len(rows)))
        assert own > others + 0.05, similarity.round(3)


def test_sentences_encoded_on_their_own(runtime: Runtime) -> None:
    ingestor = Ingestor(runtime.store, runtime.embedder, runtime.settings, sentence_mode="own")
    ingestor.run(items(article(1), article(2)))
    assert_index_matches_chunks(runtime)
    hits = hits_of(runtime, "Who said the repairs were delayed?")
    stored = StoredSentences(runtime.store.catalog, NoModel(runtime.embedder)).of(hits)
    fresh = EmbeddedSentences(runtime.embedder).of(hits)
    assert stored.refs == fresh.refs
    # Stored as float16: the same vectors to within that precision.
    assert float((stored.vectors * fresh.vectors).sum(axis=1).min()) >= 0.9999


def test_update_replaces_and_delete_removes(runtime: Runtime) -> None:
    ingestor = Ingestor(runtime.store, runtime.embedder, runtime.settings)
    ingestor.run(items(article(0), article(1), article(2)))
    before = sentence_rows(runtime)
    again = ingestor.run(items(article(0), article(1), article(2)))
    assert (again.unchanged, again.chunks) == (3, 0)
    assert sentence_rows(runtime) == before

    short = Article(id="art-2", title="Budget vote number 2", body="The vote was cancelled. Nobody knows why.")
    assert ingestor.run(items(short)).updated == 1
    assert_index_matches_chunks(runtime)
    assert [n for cid, n in sentence_rows(runtime).items() if cid.startswith("art-2:")] == [2]

    assert runtime.store.delete("art-1")
    assert not [cid for cid in sentence_rows(runtime) if cid.startswith("art-1:")]
    assert_index_matches_chunks(runtime)


def test_a_store_without_sentence_vectors_is_answered_and_backfilled(runtime: Runtime) -> None:
    """Stores written before sentence vectors existed: computed on demand, then written by a plain re-ingest."""
    ingestor = Ingestor(runtime.store, runtime.embedder, runtime.settings)
    articles = [article(i) for i in range(4)]
    copy = Article(id="copy-of-3", title=articles[3].title, body=articles[3].body, url="https://partner.example/3")
    assert ingestor.run(items(*articles, copy)).duplicates == 1
    aliases_before = runtime.store.catalog.states(["copy-of-3"])
    conn = runtime.store.catalog._connect()
    conn.execute("DELETE FROM chunk_sentences")  # as an older version left it

    hits = hits_of(runtime, "How many bus routes will the plan add?")
    spy = NoModel(runtime.embedder)
    got = StoredSentences(runtime.store.catalog, spy).of(hits)
    assert spy.calls == [len(got.refs)]
    fresh = EmbeddedSentences(runtime.embedder).of(hits)
    assert got.refs == fresh.refs
    assert float((got.vectors * fresh.vectors).sum(axis=1).min()) >= 0.99999

    report = ingestor.run(items(*articles, copy))
    assert (report.added, report.updated, report.unchanged, report.duplicates) == (0, 0, 5, 0)
    assert_index_matches_chunks(runtime)
    assert runtime.store.catalog.states(["copy-of-3"]) == aliases_before  # the copy is still a copy
    assert ingestor.run(items(*articles, copy)).chunks == 0  # and now nothing is left to add


def test_one_question_reads_its_hits_sentences_once(runtime: Runtime) -> None:
    """The answerer and the citation checks both ask for the sentences of one hits list: the catalog is read
    for the first ask only, and only for that very list with the same chunks; the shared arrays are read-only."""
    Ingestor(runtime.store, runtime.embedder, runtime.settings).run(items(*(article(i) for i in range(4))))
    hits = hits_of(runtime, "How many bridges will the council repair?")
    reads: list[list[str]] = []
    catalog = runtime.store.catalog
    read = catalog.sentence_vectors

    def counting(chunk_ids: list[str]) -> dict[str, np.ndarray]:
        reads.append(list(chunk_ids))
        return read(chunk_ids)

    catalog.sentence_vectors = counting  # type: ignore[method-assign]
    sentences = StoredSentences(catalog, NoModel(runtime.embedder))
    first = sentences.of(hits)
    assert sentences.of(hits) is first
    assert len(reads) == 1

    again = sentences.of(list(hits))  # an equal list that is another object: read again
    assert len(reads) == 2 and again is not first
    assert again.refs == first.refs and np.array_equal(again.vectors, first.vectors)
    hits.pop()  # the same list, other chunks: read again, and the answer is for what it holds now
    fewer = sentences.of(hits)
    assert len(reads) == 3 and fewer.refs == tuple(chunk_sentences(hits))
    assert not first.vectors.flags.writeable
