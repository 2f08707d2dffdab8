"""Citations are data: markers parsed, normalised, renumbered 1..n and checked against what was retrieved.

A model's numbering is never trusted: a marker naming no retrieved source is removed and counted;
`[1,2]`, `[1][2]`, `[Source 1]`, `(1)`, `[^1]`, `【1】` and ranges become `[1][2]`; each citation's quote is
the sentence of the cited chunk that best supports the claim, verbatim in the article body at start:end.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.embeddings import Embedder
from rag.models import Citation, Hit
from rag.sentences import HitSentences, SentenceRef, SentenceVectors
from rag.text import sentence_spans

# [1] [1, 2] [1-3] [Source 1] [sources: 1, 2] [^1] [S1] [doc 2] 【1】 (1) (Source 2)
_NUMS = r"\d{1,3}(?:\s*(?:,|;|-|–|and|&)\s*\d{1,3})*"
_LABEL = r"(?:(?:sources?|src|refs?|references?|docs?|documents?|articles?|citations?|s)\s*[:#]?\s*)"
MARKER = re.compile(
    rf"\[\^?\s*{_LABEL}?(?P<a>{_NUMS})\s*\]"
    rf"|【\s*{_LABEL}?(?P<b>{_NUMS})\s*】"
    rf"|\(\s*{_LABEL}(?P<c>{_NUMS})\s*\)"
    rf"|(?<![\w(])\((?P<d>\d{{1,2}})\)(?!\w)",
    re.IGNORECASE,
)
CANONICAL = re.compile(r"\[(\d+)\]")
SUPPORT_THRESHOLD = 0.5
_WORD = re.compile(r"[a-z0-9$%][a-z0-9$%.,'-]*[a-z0-9%]|[a-z0-9$%]", re.I)
_STOP = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were will with".split()
)


def _numbers(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and|&)\s*", spec):
        if m := re.fullmatch(r"(\d+)\s*[-–]\s*(\d+)", part.strip()):
            lo, hi = int(m.group(1)), int(m.group(2))
            out.extend(range(lo, hi + 1) if 0 < hi - lo < 10 else [lo, hi])
        elif part.strip().isdigit():
            out.append(int(part))
    return out


@dataclass(frozen=True)
class Normalised:
    text: str  # canonical [n] markers, numbered by the retrieved hits (1-based)
    removed: int  # markers (or numbers inside them) that named no retrieved source


def normalise_markers(text: str, n_sources: int) -> Normalised:
    """Rewrite every marker form as `[i][j]`, dropping numbers outside 1..n_sources."""
    removed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal removed
        spec = next(g for g in match.group("a", "b", "c", "d") if g is not None)
        numbers = _numbers(spec)
        valid = [n for n in numbers if 1 <= n <= n_sources]
        removed += len(numbers) - len(valid)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    out = MARKER.sub(replace, text)
    # "... billion. [1]" becomes "... billion [1]." so a marker always sits inside its sentence.
    out = re.sub(r"([.!?])[ \t]*((?:\[\d+\])+)", r" \2\1", out)
    out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)  # a removed marker leaves no space before punctuation
    out = re.sub(r"[ \t]{2,}", " ", out).strip()
    return Normalised(out, removed)


def renumber(text: str, shown: Sequence[int] = ()) -> tuple[str, list[int]]:
    """Markers renumbered 1..m in order of first appearance; returns the old number of each new one.

    `shown`: old numbers a reader has already seen numbered 1, 2, ... (a stream): they keep those numbers.
    """
    order: list[int] = list(dict.fromkeys(shown))
    for m in CANONICAL.finditer(text):
        n = int(m.group(1))
        if n not in order:
            order.append(n)
    mapping = {old: new for new, old in enumerate(order, start=1)}
    return CANONICAL.sub(lambda m: f"[{mapping[int(m.group(1))]}]", text), order


def claims(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence of an answer with the markers it carries (marker text removed from the claim)."""
    out: list[tuple[str, list[int]]] = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        numbers = [int(n) for n in CANONICAL.findall(sentence)]
        claim = re.sub(r"\s+([.,;:!?])", r"\1", CANONICAL.sub("", sentence))
        claim = re.sub(r"\s{2,}", " ", claim).strip()
        if claim:
            out.append((claim, numbers))
    # A marker standing alone after a sentence ("... billion. [1]") belongs to the sentence before it.
    merged: list[tuple[str, list[int]]] = []
    for claim, numbers in out:
        if merged and not _WORD.search(claim):
            merged[-1] = (merged[-1][0], merged[-1][1] + numbers)
        else:
            merged.append((claim, numbers))
    return merged


@functools.lru_cache(maxsize=8192)
def content_words(text: str) -> frozenset[str]:
    """Memoised (hence frozen): the answerer and the citation checks ask again and again for the same
    question's and the same sentences' words."""
    return frozenset(w.lower().strip(".,'") for w in _WORD.findall(text)) - _STOP


def lexical_overlap(claim: str, sentence: str) -> float:
    words = content_words(claim)
    return len(words & content_words(sentence)) / len(words) if words else 0.0


class SupportScorer:
    """How well a sentence supports a claim: cosine of embeddings blended with shared content words.

    Sentence vectors come from `sentences` (stored or cached); only claims are embedded, and only claims
    that do not quote a sentence of their source verbatim (an LLM's paraphrase, never an extractive quote).
    """

    def __init__(self, sentences: SentenceVectors, embedder: Embedder) -> None:
        self.sentences = sentences
        self.embedder = embedder

    def matrix(self, claims_: Sequence[str], hit_sentences: HitSentences) -> np.ndarray:
        refs = hit_sentences.refs
        if not claims_ or not refs:
            return np.zeros((len(claims_), len(refs)), dtype=np.float32)
        claim_vectors = self.embedder.embed_documents(list(claims_))
        cos = claim_vectors @ hit_sentences.vectors.T
        lex = np.array([[lexical_overlap(c, r.text) for r in refs] for c in claims_], dtype=np.float32)
        return 0.7 * cos + 0.3 * lex


@dataclass(frozen=True)
class Verified:
    text: str
    citations: tuple[Citation, ...]
    removed: int
    unsupported: int


VERBATIM = 1.0  # the support score of a claim that quotes its cited sentence word for word


def _support(
    claim_list: list[tuple[str, list[int]]], hit_sentences: HitSentences, scorer: SupportScorer, auto_cite: bool
) -> np.ndarray:
    """Claims x sentences. A claim quoting a sentence of a source it cites scores VERBATIM there; the
    embedder runs only for claims citing a source none of whose sentences is quoted, and for uncited
    claims that auto-citing may ground."""
    refs = hit_sentences.refs
    scores = np.zeros((len(claim_list), len(refs)), dtype=np.float32)
    quoted: set[int] = set()
    for i, (claim, numbers) in enumerate(claim_list):
        for j, ref in enumerate(refs):
            if ref.hit_index + 1 in numbers and ref.text in claim:
                scores[i, j] = VERBATIM
                quoted.add(ref.hit_index + 1)
    need = [
        i
        for i, (claim, numbers) in enumerate(claim_list)
        if any(n not in quoted for n in numbers) or (auto_cite and not numbers and len(content_words(claim)) >= 3)
    ]
    if need:
        embedded = scorer.matrix([claim_list[i][0] for i in need], hit_sentences)
        for row, i in enumerate(need):
            scores[i] = np.maximum(scores[i], embedded[row])
    return scores


def verify(
    answer_text: str,
    hits: Sequence[Hit],
    scorer: SupportScorer,
    auto_cite: bool = True,
    shown: Sequence[int] = (),
    prefer: str | None = None,
) -> Verified:
    """Normalise, renumber and ground every citation of an answer in the retrieved hits.

    `shown`: hit numbers (1-based) in the order a stream already showed them to the reader as 1, 2, ...;
    each keeps its number and gets a citation, a real quote from its passage, even where the final text
    no longer carries its marker (then it is flagged unsupported).
    `prefer`: the answer's short answer; of a passage's equally supported sentences, one holding it is quoted
    (two lines quoting one passage get one quote, and the short answer must be verbatim in it).
    """
    normalised = normalise_markers(answer_text, len(hits))
    text = normalised.text
    hit_sentences = scorer.sentences.of(hits)
    sentences = list(hit_sentences.refs)
    claim_list = claims(text)
    if auto_cite and sentences:
        scores = _support(claim_list, hit_sentences, scorer, auto_cite)
        text = _cite_unmarked(text, claim_list, scores, sentences)
        claim_list = claims(text)
    scores = _support(claim_list, hit_sentences, scorer, auto_cite=False)
    text, order = renumber(text, [n for n in shown if 1 <= n <= len(hits)])
    citations: list[Citation] = []
    unsupported = 0
    for new_n, old_n in enumerate(order, start=1):
        hit_index = old_n - 1
        hit = hits[hit_index]
        candidates = [j for j, s in enumerate(sentences) if s.hit_index == hit_index]
        claiming = [i for i, (_, numbers) in enumerate(claim_list) if old_n in numbers]
        best_j, best_score = candidates[0] if candidates else -1, 0.0
        for i in claiming:
            for j in candidates:
                if scores[i, j] > best_score or (
                    scores[i, j] == best_score > 0 and prefer and prefer in sentences[j].text
                ):
                    best_j, best_score = j, float(scores[i, j])
        if best_j < 0:
            quote_start, quote_end, quote = hit.start, hit.end, hit.text
        else:
            ref = sentences[best_j]
            quote_start, quote_end, quote = ref.start, ref.end, ref.text
        supported = best_score >= SUPPORT_THRESHOLD
        unsupported += not supported
        citations.append(Citation.of(hit, new_n, quote, quote_start, quote_end, round(best_score, 4), supported))
    return Verified(text, tuple(citations), normalised.removed, unsupported)


def _cite_unmarked(
    text: str, claim_list: list[tuple[str, list[int]]], scores: np.ndarray, sentences: list[SentenceRef]
) -> str:
    """A factual sentence the model left uncited gets the source that clearly supports it, if any."""
    for i, (claim, numbers) in enumerate(claim_list):
        if numbers or len(content_words(claim)) < 3:
            continue
        j = int(np.argmax(scores[i]))
        if scores[i, j] >= SUPPORT_THRESHOLD + 0.1:
            marker = f" [{sentences[j].hit_index + 1}]"
            position = text.find(claim)
            if position >= 0:
                end = position + len(claim.rstrip(".!?\"'”’"))
                text = text[:end] + marker + text[end:]
    return text


class StreamMarkers:
    """Rewrites citation markers in streamed text as it arrives: the answerer's numbers (retrieved passage i)
    become the reader's (1, 2, 3 in order of first use); numbers that name no passage are dropped. A piece
    that may end inside a marker ("... [1") is held back until the marker closes. `order` goes to `verify`
    as `shown`, so the final citations carry the numbers the reader saw."""

    HOLD = 40  # longest marker we wait for

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.order: list[int] = []  # passage numbers, in order of first use
        self._pending = ""

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        cut = len(text)
        for opener, closer in (("[", "]"), ("(", ")"), ("【", "】")):
            i = text.rfind(opener)
            if i >= 0 and closer not in text[i:] and len(text) - i <= self.HOLD:
                cut = min(cut, i)
        self._pending = text[cut:]
        return self._rewrite(text[:cut])

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._rewrite(text)

    def _rewrite(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            spec = next(g for g in match.group("a", "b", "c", "d") if g is not None)
            out: list[int] = []
            for n in _numbers(spec):
                if not 1 <= n <= self.n_sources:
                    continue
                if n not in self.order:
                    self.order.append(n)
                shown = self.order.index(n) + 1
                if shown not in out:
                    out.append(shown)
            return "".join(f"[{n}]" for n in out)

        return MARKER.sub(replace, text)
