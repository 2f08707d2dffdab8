"""Sentence-aware chunks that fit the embedder's window, with overlap and exact character offsets.

Every chunk is a span of the article body (`body[start:end] == text`), and what the embedder sees
(title line + text) never exceeds the model's token window, so nothing is silently truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.models import Article, Chunk
from rag.text import sentence_spans, word_spans

TokenCounter = Callable[[list[str]], list[int]]
SPECIAL_TOKENS = 2  # [CLS] and [SEP]


@dataclass(frozen=True)
class ChunkConfig:
    size: int = 200  # tokens, title line included
    overlap: int = 40  # tokens of trailing sentences carried into the next chunk
    model_max_tokens: int = 256

    @property
    def budget(self) -> int:
        return min(self.size, self.model_max_tokens - SPECIAL_TOKENS)

    def signature(self) -> str:
        return f"chunk:v2:{self.budget}:{self.overlap}"


def embed_header(article: Article, max_tokens: int, count: TokenCounter) -> str:
    """The title line the embedder sees before each chunk; long titles are cut by words to fit."""
    title = article.title
    if count([title])[0] <= max_tokens:
        return title
    words = title.split()
    while words and count([" ".join(words)])[0] > max_tokens:
        words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
    return " ".join(words)


def _hard_cut(body: str, start: int, end: int, count: TokenCounter, budget: int) -> list[tuple[int, int, int]]:
    """Cut one over-long word into spans of at most `budget` tokens each.

    Token density varies inside such a word ("a.b.c." is a token a character, a long run of letters is one
    [UNK]), so each cut is found by binary search on the real count rather than from the average density.
    """
    pieces: list[tuple[int, int, int]] = []
    cut = start
    while cut < end:
        tokens = count([body[cut:end]])[0]
        if tokens <= budget:
            pieces.append((cut, end, tokens))
            break
        lo, hi = cut + 1, end - 1  # invariant: body[cut:lo] fits (one character always does)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count([body[cut:mid]])[0] <= budget:
                lo = mid
            else:
                hi = mid - 1
        pieces.append((cut, lo, count([body[cut:lo]])[0]))
        cut = lo
    return pieces


def _pieces(body: str, count: TokenCounter, budget: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens); a sentence over budget is cut at word boundaries."""
    spans = sentence_spans(body)
    counts = count([body[s:e] for s, e in spans])
    pieces: list[tuple[int, int, int]] = []
    for (start, end), tokens in zip(spans, counts, strict=True):
        if tokens <= budget:
            pieces.append((start, end, tokens))
            continue
        words = word_spans(body, start, end)
        word_counts = count([body[s:e] for s, e in words])
        piece_start, piece_tokens, last_end = words[0][0], 0, words[0][0]
        for (ws, we), wt in zip(words, word_counts, strict=True):
            if piece_tokens and piece_tokens + wt > budget:
                pieces.append((piece_start, last_end, piece_tokens))
                piece_start, piece_tokens = ws, 0
            if wt > budget:  # one "word" longer than the window (a URL, a hash): hard cut by characters
                pieces.extend(_hard_cut(body, ws, we, count, budget))
                piece_start, piece_tokens, last_end = we, 0, we
                continue
            piece_tokens += wt
            last_end = we
        if piece_tokens:
            pieces.append((piece_start, last_end, piece_tokens))
    return pieces


def _extend(body: str, pieces: list[tuple[int, int, int]], i: int, count: TokenCounter, budget: int) -> int:
    """End (exclusive) of the longest run of pieces from `i` that fits the budget; always at least one."""
    j, tokens = i + 1, pieces[i][2]
    while j < len(pieces) and tokens + pieces[j][2] <= budget:
        if pieces[j][0] == pieces[j - 1][1]:
            # Two cuts of one over-long word: the joined text can tokenize differently, so recount.
            joined = count([body[pieces[i][0] : pieces[j][1]]])[0]
            if joined > budget:
                break
            tokens = joined
        else:
            tokens += pieces[j][2]
        j += 1
    return j


def chunk(article: Article, count: TokenCounter, config: ChunkConfig) -> list[Chunk]:
    header = embed_header(article, config.budget // 3, count)
    header_tokens = count([header])[0] + 1 if header else 0
    budget = max(16, config.budget - header_tokens)
    pieces = _pieces(article.body, count, budget)
    chunks: list[Chunk] = []
    i, done = 0, 0  # `done`: pieces[:done] are in some chunk already
    while i < len(pieces):
        j = _extend(article.body, pieces, i, count, budget)
        if j <= done:  # the overlap left no room for new text: start afresh at the first new piece
            i = done
            j = _extend(article.body, pieces, i, count, budget)
        done = j
        start, end = pieces[i][0], pieces[j - 1][1]
        text = article.body[start:end]
        chunks.append(
            Chunk(
                id=f"{article.id}:{len(chunks):04d}",
                article_id=article.id,
                index=len(chunks),
                start=start,
                end=end,
                text=text,
                embed_text=f"{header}\n{text}" if header else text,
            )
        )
        if j >= len(pieces):
            break
        # Overlap: step back over trailing sentences worth at most `overlap` tokens, leaving room for the
        # next piece so the next chunk always adds new text.
        limit = min(config.overlap, budget - pieces[j][2])
        back, carried = j, 0
        while back - 1 > i and carried + pieces[back - 1][2] <= limit:
            back -= 1
            carried += pieces[back][2]
        i = back
    return chunks
