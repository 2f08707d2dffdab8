"""Chunks are exact spans of the body, never exceed the model window, overlap, and follow sentences."""

from __future__ import annotations

import itertools
import random
import string

import pytest

from ingest.chunking import ChunkConfig, chunk
from ingest.loaders import load
from ingest.validate import RawArticle, validate
from rag.embeddings import Embedder
from rag.models import Article, Chunk
from rag.text import sentence_spans
from tests.ingest.helpers import SAMPLE_COUNT, SAMPLES


def _config(embedder: Embedder, size: int = 200, overlap: int = 40) -> ChunkConfig:
    return ChunkConfig(size, overlap, embedder.max_tokens)


def _article(body: str, title: str = "A headline about the city budget") -> Article:
    return validate(RawArticle(title=title, body=body, source="Test Wire"), max_chars=10**7)


def _check_invariants(article: Article, chunks: list[Chunk], embedder: Embedder) -> None:
    assert chunks, "an article with text has at least one chunk"
    counts = embedder.count_tokens([c.embed_text for c in chunks])
    for c, tokens in zip(chunks, counts, strict=True):
        assert article.body[c.start : c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert c.embed_text.endswith(c.text)
        assert tokens + 2 <= embedder.max_tokens, (c.id, tokens)  # [CLS] + [SEP]: nothing truncated
        assert c.article_id == article.id
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    # Chunks move forward and together cover every non-space character of the body.
    assert all(a.start < b.start and a.end < b.end for a, b in itertools.pairwise(chunks))
    covered = bytearray(len(article.body))
    for c in chunks:
        covered[c.start : c.end] = b"\x01" * (c.end - c.start)
    uncovered = [i for i, ch in enumerate(article.body) if not covered[i] and not ch.isspace()]
    assert uncovered == []


def _sample_articles() -> list[Article]:
    return [i.article for i in load(SAMPLES) if i.article]


def test_every_sample_chunk_is_an_exact_span_within_the_window(embedder: Embedder) -> None:
    articles = _sample_articles()
    assert len(articles) == SAMPLE_COUNT
    total = 0
    for article in articles:
        chunks = chunk(article, embedder.count_tokens, _config(embedder))
        _check_invariants(article, chunks, embedder)
        # The title line goes before every chunk, so each chunk is findable by its headline too.
        assert all(c.embed_text.startswith(article.title + "\n") for c in chunks)
        total += len(chunks)
    assert total > SAMPLE_COUNT  # sample articles are long enough to need several chunks


def test_chunk_ids_are_deterministic(embedder: Embedder) -> None:
    article = _sample_articles()[0]
    first = chunk(article, embedder.count_tokens, _config(embedder))
    again = chunk(article, embedder.count_tokens, _config(embedder))
    assert first == again
    assert [c.id for c in first] == [f"{article.id}:{i:04d}" for i in range(len(first))]


def _random_words(rng: random.Random, n: int) -> str:
    vocab = [
        "council",
        "budget",
        "harbour",
        "minister",
        "Tuesday",
        "percent",
        "election",
        "inflation",
        "railway",
        "analysts",
        "growth",
        "record",
        "$4.2 billion",
        "U.S.",
        "e.g.",
        "Dr.",
        "3.5%",
    ]
    return " ".join(rng.choice(vocab) for _ in range(n))


PATHOLOGICAL = {
    "one 3000-word sentence": lambda rng: _random_words(rng, 3000) + ".",
    "5000-char URL-like token": lambda rng: (
        "Read more at https://tracker.example/c?"
        + "&".join(f"k{i}={''.join(rng.choices(string.ascii_lowercase, k=5))}" for i in range(700))[:5000]
        + " before Friday."
    ),
    "token of uneven density": lambda rng: "See " + "a." * 1250 + "x" * 2500 + " here.",
    "base64 blob": lambda rng: "Image: " + "".join(rng.choices(string.ascii_letters + "+/=", k=5000)) + " end.",
    "no spaces, no punctuation": lambda rng: "z" * 6000,
    "long title": lambda rng: "Short body.",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_articles_never_overflow_the_window(embedder: Embedder, name: str) -> None:
    rng = random.Random(7)
    body = PATHOLOGICAL[name](rng)
    title = "Headline " * 300 if name == "long title" else "A headline about the city budget"
    article = _article(body, title=title)
    chunks = chunk(article, embedder.count_tokens, _config(embedder))
    _check_invariants(article, chunks, embedder)
    if name == "long title":
        # A title far over the window is cut by words; the body still gets its chunk.
        assert len(chunks) == 1 and chunks[0].text == "Short body."


def test_invariants_hold_for_other_sizes(embedder: Embedder) -> None:
    rng = random.Random(3)
    body = "\n\n".join(
        " ".join(_random_words(rng, rng.randint(5, 40)) + "." for _ in range(rng.randint(1, 6))) for _ in range(30)
    )
    article = _article(body)
    for size, overlap in [(32, 0), (64, 16), (128, 60), (254, 40), (8192, 40)]:
        chunks = chunk(article, embedder.count_tokens, ChunkConfig(size, overlap, embedder.max_tokens))
        _check_invariants(article, chunks, embedder)
        budget = min(size, embedder.max_tokens - 2)
        assert all(t <= budget for t in embedder.count_tokens([c.embed_text for c in chunks]))


def _news_body(n_sentences: int) -> str:
    rng = random.Random(11)
    sentences = [
        f"Sentence {i} says the council met on day {i} and agreed on item {rng.randint(1, 99)} of the budget."
        for i in range(n_sentences)
    ]
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, n_sentences, 4)]
    return "\n\n".join(paragraphs)


def test_overlap_repeats_trailing_sentences(embedder: Embedder) -> None:
    article = _article(_news_body(60))
    with_overlap = chunk(article, embedder.count_tokens, _config(embedder, size=120, overlap=40))
    without = chunk(article, embedder.count_tokens, _config(embedder, size=120, overlap=0))
    _check_invariants(article, with_overlap, embedder)
    _check_invariants(article, without, embedder)
    assert len(with_overlap) > len(without) > 2
    # Without overlap chunks tile the body; with overlap each chunk starts inside the previous one.
    assert all(b.start >= a.end for a, b in itertools.pairwise(without))
    overlapping = [(a, b) for a, b in itertools.pairwise(with_overlap) if b.start < a.end]
    assert len(overlapping) == len(with_overlap) - 1
    for a, b in overlapping:
        shared = article.body[b.start : a.end]
        assert 0 < embedder.count_tokens([shared])[0] <= 40
        assert shared.startswith("Sentence ")  # whole sentences are carried over


def test_chunks_start_and_end_on_sentence_boundaries(embedder: Embedder) -> None:
    article = _article(_news_body(80))
    spans = sentence_spans(article.body)
    starts = {s for s, _ in spans}
    ends = {e for _, e in spans}
    chunks = chunk(article, embedder.count_tokens, _config(embedder, size=100, overlap=30))
    assert len(chunks) > 5
    for c in chunks:
        assert c.start in starts and c.end in ends, c
        assert c.text.endswith(".")
    # Sentence splitting knows abbreviations and decimals.
    text = "Dr. Smith paid $4.5 million to the U.S. Treasury on Jan. 5. Then he left. Was it legal? Yes."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Dr. Smith paid $4.5 million to the U.S. Treasury on Jan. 5.",
        "Then he left.",
        "Was it legal?",
        "Yes.",
    ]


def test_a_sentence_over_budget_is_cut_at_words(embedder: Embedder) -> None:
    rng = random.Random(5)
    long_sentence = _random_words(rng, 600) + "."
    article = _article(f"A short opening sentence. {long_sentence} A short closing sentence.")
    chunks = chunk(article, embedder.count_tokens, _config(embedder, size=100, overlap=0))
    _check_invariants(article, chunks, embedder)
    body = article.body
    for c in chunks:
        # Cuts fall between words, never inside one.
        assert c.start == 0 or body[c.start - 1].isspace()
        assert c.end == len(body) or body[c.end].isspace()


def test_cut_word_pieces_that_cannot_rejoin_still_advance() -> None:
    # A tokenizer where a word costs more than its two halves (n*n/8 tokens for n characters): the last
    # cut of a long word cannot rejoin the previous cut, and overlap must not produce a chunk that is only
    # a repeat of the previous one.
    def count(texts: list[str]) -> list[int]:
        return [sum(len(w) * len(w) // 8 + 1 for w in t.split()) for t in texts]

    article = _article("a " + "q" * 23, title="T")
    chunks = chunk(article, count, ChunkConfig(64, 1024, 256))
    assert [(c.start, c.end) for c in chunks] == [(0, 24), (24, 25)]
    assert all(count([c.embed_text])[0] <= 64 for c in chunks)
