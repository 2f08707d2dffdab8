"""Sentence spans over article text. Shared by chunking (ingest) and quoting (citations, extractive answers),
so a quote is always a span of the same sentences the chunker saw."""

from __future__ import annotations

import re

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt ft no nos vs etc inc ltd co corp gov sen rep gen col lt sgt capt
    jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m approx est dept univ""".split()
)
# A sentence ends at . ! ? (with closing quotes and any citation markers "[1][2]" that follow it)
# when the next word starts like a sentence.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?:[ \t]*\[\d{1,3}\])*(?=\s+(?!\[\d)["'“‘(\[]?[A-Z0-9$£€])""")
_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=\s*[-*•]\s)|\n")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at `dot` closes an abbreviation or an initial rather than a sentence."""
    if text[dot] != ".":
        return False
    start = dot
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot].lower()
    if not word:
        return False
    if word in _ABBREVIATIONS:
        return True
    # Single capital initials ("J. Smith") and dotted acronyms ("U.S.").
    return (len(word) == 1 and text[start].isupper()) or (("." in word) and len(word) <= 5)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace trimmed; paragraphs and line breaks always split."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for para in _PARAGRAPH.finditer(text + "\n"):
        _split_paragraph(text, pos, para.start(), spans)
        pos = para.end()
    if pos < len(text):
        _split_paragraph(text, pos, len(text), spans)
    return spans


def _split_paragraph(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        cut = match.end()
        if _is_abbreviation(text, match.start()) and text[match.start() + 1 : match.end()].strip() == "":
            continue
        _append_trimmed(text, cursor, cut, out)
        cursor = cut
    _append_trimmed(text, cursor, end, out)


def _append_trimmed(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Whitespace-separated words inside [start, end), as absolute spans."""
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
