"""When retrieved reports disagree on the asked figure, say who reported what and when.

A figure is the largest money amount or quantity in a source's best-supporting sentence. Two sources
conflict when both sentences are strong answers to the question and their figures differ by more
than rounding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_SCALE = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
AMOUNT = re.compile(
    r"(?P<qual>(?:more than|over|about|around|nearly|almost|roughly|some|at least|up to|less than)\s+)?"
    r"(?P<cur>[$€£¥])\s?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<scale>thousand|million|billion|trillion|bn|mn|tn|[kmb])?\b"
    r"|(?P<qual2>(?:more than|over|about|around|nearly|almost|roughly|at least|up to|less than)\s+)?"
    r"(?P<num2>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>%|percent|per cent|(?:thousand|million|billion|trillion)\s+"
    r"(?:dollars|euros|pounds|people|users|jobs))",
    re.IGNORECASE,
)
FIGURE_QUESTION = re.compile(
    r"\b(how much|how many|what (?:amount|figure|sum|number|percentage|share|price|valuation)|"
    r"what (?:is|was) the (?:amount|figure|sum|number|valuation|price)|invest|raised?|cost|paid|worth|valued)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figure:
    value: float
    text: str
    currency: str


@dataclass(frozen=True)
class Reported:
    figure: Figure
    source: str | None
    published_at: datetime | None
    marker: int  # citation number in the answer


def figures(sentence: str) -> list[Figure]:
    found: list[Figure] = []
    for m in AMOUNT.finditer(sentence):
        number = m.group("num") or m.group("num2")
        try:
            value = float(number.replace(",", ""))
        except ValueError:
            continue
        scale = (m.group("scale") or "").lower()
        unit = (m.group("unit") or "").lower()
        for word, factor in _SCALE.items():
            if scale == word or unit.startswith(word + " "):
                value *= factor
                break
        currency = m.group("cur") or ("%" if unit in ("%", "percent", "per cent") else unit.split(" ")[-1])
        found.append(Figure(value, m.group(0).strip(), currency))
    return found


def main_figure(sentence: str) -> Figure | None:
    """The headline figure of a sentence: its largest amount ("$13 billion ... another $1 billion")."""
    found = figures(sentence)
    return max(found, key=lambda f: f.value) if found else None


def asks_for_figure(question: str) -> bool:
    return bool(FIGURE_QUESTION.search(question))


def disagreement(reports: list[Reported]) -> list[Reported]:
    """The reports if at least two of them give materially different figures in one currency, else []."""
    by_currency: dict[str, list[Reported]] = {}
    for report in reports:
        by_currency.setdefault(report.figure.currency, []).append(report)
    for group in by_currency.values():
        values = [r.figure.value for r in group]
        if len(group) >= 2 and max(values) > min(values) * 1.02:
            return group
    return []


def describe(reports: list[Reported]) -> str:
    parts = []
    for r in reports:
        when = f" ({r.published_at:%Y-%m-%d})" if r.published_at else ""
        parts.append(f"{r.source or 'one source'}{when} reports {r.figure.text} [{r.marker}]")
    return "Sources differ on this figure: " + "; ".join(parts) + "."
