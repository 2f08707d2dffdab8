"""Eval metrics: small pure functions, no I/O, each with unit tests on hand-made cases.

Retrieval metrics work at article level: `ranked` is the list of retrieved article ids (or urls), best
first, and `gold` the set of evidence articles. Duplicates in `ranked` count once, at their best rank.

Naming, to avoid a common mix-up: `hits_at_k` is 1 when ANY gold item is in the top k; `recall_at_k` is
the share of ALL gold items in the top k (what the MultiHop-RAG paper calls "Hits@k").
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# ---------------------------------------------------------------- retrieval


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each id, in order."""
    seen: set[str] = set()
    out: list[str] = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _check(gold: Collection[str], k: int) -> None:
    if k < 1:
        raise ValueError("k must be at least 1")
    if not gold:
        raise ValueError("retrieval metrics need at least one gold item")


def hits_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """1.0 when at least one gold item is among the first k distinct ranked items, else 0.0."""
    _check(gold, k)
    return 1.0 if any(item in gold for item in dedupe(ranked)[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of all gold items found among the first k distinct ranked items."""
    _check(gold, k)
    gold_set = set(gold)
    return len(gold_set.intersection(dedupe(ranked)[:k])) / len(gold_set)


def mrr_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """1/rank of the first gold item within the top k (ranks start at 1), else 0.0."""
    _check(gold, k)
    for rank, item in enumerate(dedupe(ranked)[:k], start=1):
        if item in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k: DCG of the ranking over the DCG of a perfect one."""
    _check(gold, k)
    gold_set = set(gold)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, item in enumerate(dedupe(ranked)[:k], start=1) if item in gold_set)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal


# ---------------------------------------------------------------- answers

_MARKER = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# Punctuation to drop; '$', '%' and friends go too, so "$13 billion" and "13 billion" match.
_PUNCT = str.maketrans({ch: " " for ch in string.punctuation + "‘’“”–—…·€£"})
_THOUSANDS = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
YES_NO = ("yes", "no")


def strip_markers(text: str) -> str:
    """Remove citation markers like [1] or [1, 2] from answer text."""
    return _MARKER.sub(" ", text)


def normalize_answer(text: str) -> str:
    """Lower-case, citation markers, punctuation and articles (a, an, the) removed, spaces collapsed.

    Thousands separators are dropped first so "2,104" and "2104" agree.
    """
    text = strip_markers(text).casefold()
    text = _THOUSANDS.sub("", text)
    text = text.translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _alternatives(expected: str | Sequence[str]) -> list[str]:
    items = [expected] if isinstance(expected, str) else list(expected)
    return [n for n in (normalize_answer(e) for e in items) if n]


def extract_yes_no(text: str) -> str | None:
    """'yes' or 'no' when the answer opens with one of them, else None."""
    words = normalize_answer(text).split()
    return words[0] if words and words[0] in YES_NO else None


def exact_match(prediction: str, expected: str | Sequence[str]) -> bool:
    """Normalised exact match against any acceptable answer."""
    pred = normalize_answer(prediction)
    return bool(pred) and pred in _alternatives(expected)


def yes_no_match(prediction: str, expected: str | Sequence[str]) -> bool:
    """The answer's leading yes/no equals the expected one."""
    said = extract_yes_no(prediction)
    return said is not None and said in _alternatives(expected)


def contains_match(prediction: str, expected: str | Sequence[str]) -> bool:
    """Some acceptable answer appears in the prediction as whole words, after normalisation."""
    pred = f" {normalize_answer(prediction)} "
    return any(f" {alt} " in pred for alt in _alternatives(expected))


def contains_all(prediction: str, groups: Sequence[str | Sequence[str]]) -> bool:
    """Every group is matched: a group is one string or a list of alternatives (any one will do)."""
    return all(contains_match(prediction, group) for group in groups)


# ---------------------------------------------------------------- citations


class CitationLike(Protocol):
    @property
    def n(self) -> int: ...
    @property
    def article_id(self) -> str: ...
    @property
    def quote(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def markers(text: str) -> list[int]:
    """Every citation number in the text, in order: '[1] ... [2, 3]' -> [1, 2, 3]."""
    out: list[int] = []
    for match in _MARKER.finditer(text):
        out.extend(int(part) for part in re.split(r"[,;]", match.group(1)))
    return out


@dataclass(frozen=True)
class CitationCheck:
    """Validity of one answer's citations. `valid` is the product's promise; anything else is a bug."""

    markers: int
    citations: int
    dangling_markers: tuple[int, ...] = ()  # [n] in the text with no citation n
    bad_quotes: tuple[int, ...] = ()  # citation n whose quote is not body[start:end]
    unknown_articles: tuple[int, ...] = ()  # citation n whose article body was not found
    duplicate_numbers: tuple[int, ...] = ()
    unreferenced: tuple[int, ...] = field(default=())  # citations no marker points at (reported only)

    @property
    def valid(self) -> bool:
        return not (self.dangling_markers or self.bad_quotes or self.unknown_articles or self.duplicate_numbers)

    @property
    def problems(self) -> list[str]:
        out = []
        if self.dangling_markers:
            out.append(f"markers without a citation: {list(self.dangling_markers)}")
        if self.bad_quotes:
            out.append(f"quotes not verbatim at start:end: {list(self.bad_quotes)}")
        if self.unknown_articles:
            out.append(f"citations to unknown articles: {list(self.unknown_articles)}")
        if self.duplicate_numbers:
            out.append(f"citation numbers used twice: {list(self.duplicate_numbers)}")
        return out


def check_citations(answer_text: str, citations: Sequence[CitationLike], bodies: Mapping[str, str]) -> CitationCheck:
    """Every [n] marker resolves to a citation, and every citation quote is the article body at start:end.

    `bodies` maps article id to article body (from the store's catalog).
    """
    found = markers(answer_text)
    numbers = [c.n for c in citations]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    bad: list[int] = []
    unknown: list[int] = []
    for c in citations:
        body = bodies.get(c.article_id)
        if body is None:
            unknown.append(c.n)
        elif not c.quote or not (0 <= c.start < c.end <= len(body)) or body[c.start : c.end] != c.quote:
            bad.append(c.n)
    known, used = set(numbers), set(found)
    return CitationCheck(
        markers=len(found),
        citations=len(citations),
        dangling_markers=tuple(sorted({n for n in found if n not in known})),
        bad_quotes=tuple(bad),
        unknown_articles=tuple(unknown),
        duplicate_numbers=tuple(duplicates),
        unreferenced=tuple(n for n in numbers if n not in used),
    )


def set_precision(predicted: Collection[str], gold: Collection[str]) -> float | None:
    """Share of distinct predicted items that are gold; None when nothing was predicted."""
    pred = set(predicted)
    if not pred:
        return None
    return len(pred & set(gold)) / len(pred)


def set_recall(predicted: Collection[str], gold: Collection[str]) -> float | None:
    """Share of gold items predicted; None when there is no gold."""
    gold_set = set(gold)
    if not gold_set:
        return None
    return len(gold_set & set(predicted)) / len(gold_set)


def citation_precision(cited: Collection[str], gold: Collection[str]) -> float | None:
    """Share of cited articles (ids or urls) that are gold evidence."""
    return set_precision(cited, gold)


def citation_recall(cited: Collection[str], gold: Collection[str]) -> float | None:
    """Share of gold evidence articles that were cited."""
    return set_recall(cited, gold)


# ---------------------------------------------------------------- refusals


@dataclass(frozen=True)
class RefusalScores:
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None


def refusal_scores(pairs: Iterable[tuple[bool, bool]]) -> RefusalScores:
    """Precision, recall and F1 of refusing, from (should_refuse, refused) pairs.

    Precision: of the refusals, the share that were right. Recall: of the questions that should be
    refused, the share refused. None where the denominator is zero.
    """
    tp = fp = fn = tn = 0
    for should, did in pairs:
        if should and did:
            tp += 1
        elif did:
            fp += 1
        elif should:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return RefusalScores(tp, fp, fn, tn, precision, recall, f1)


# ---------------------------------------------------------------- latency and means


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(values: Sequence[float]) -> dict[str, float | int]:
    """p50, p95, mean and max of latencies (ms); {'n': 0} when there are none."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "mean": round(sum(values) / len(values), 2),
        "max": round(max(values), 2),
    }


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
