"""Answers as text for people: the CLI and the OpenAI-compatible reply render the same Answer fields the
same way (short answer first, the text, how old the newest source is, the sources list). The chain
writes no such notes into the answer text; they are rendered here, from data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rag.dates import describe_age
from rag.models import Answer, Citation, SourceIdentity, SourceRef

SOURCES_HEADING = "Sources:"
CLOSEST_HEADING = "Closest sources:"


def _date(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "undated"


def source_line(source: SourceIdentity, with_url: bool = True) -> str:
    """'title — outlet, date, url': how one source is named everywhere."""
    line = f"{source.title} — {source.source or 'unknown outlet'}, {_date(source.published_at)}"
    return f"{line}, {source.url or source.article_id}" if with_url else line


def short_answer_line(answer: Answer) -> str | None:
    """'$13 billion [1]': the answering span with its marker, for the first line."""
    if answer.short_answer is None:
        return None
    return f"{answer.short_answer.text} [{answer.short_answer.citation}]"


def newest_note(answer: Answer) -> str | None:
    """'(Newest source cited: 2025-09-12, 3 days before 2025-09-15.)'"""
    if answer.newest_source_at is None or answer.as_of is None:
        return None
    age = describe_age(answer.newest_source_at, answer.as_of)
    return f"(Newest source cited: {answer.newest_source_at:%Y-%m-%d}, {age} before {answer.as_of:%Y-%m-%d}.)"


def citation_lines(citations: Sequence[Citation], quotes: bool = False) -> list[str]:
    lines: list[str] = []
    for c in citations:
        flag = "" if c.supported or not quotes else "  (weak support)"
        lines.append(f"[{c.n}] {source_line(c)}{flag}")
        if quotes:
            lines.append(f"    “{c.quote}”")
    return lines


def closest_lines(sources: Sequence[SourceRef], limit: int = 3, with_url: bool = True) -> list[str]:
    """The first `limit` distinct articles among the sources."""
    seen: set[str] = set()
    lines: list[str] = []
    for s in sources:
        if s.article_id not in seen:
            seen.add(s.article_id)
            lines.append(f"- {source_line(s, with_url)}")
        if len(lines) == limit:
            break
    return lines


def head(answer: Answer) -> str:
    """What comes before the answer text: the short answer line, or nothing."""
    line = short_answer_line(answer)
    return f"{line}\n\n" if line else ""


def tail(answer: Answer, quotes: bool = False) -> str:
    """What follows the answer text: the age note and the sources (or, for a refusal, the closest ones)."""
    blocks: list[str] = []
    if answer.refused:
        if answer.sources:
            blocks.append("\n".join([CLOSEST_HEADING, *closest_lines(answer.sources)]))
    else:
        if note := newest_note(answer):
            blocks.append(note)
        if answer.citations:
            blocks.append("\n".join([SOURCES_HEADING, *citation_lines(answer.citations, quotes)]))
    return "".join(f"\n\n{b}" for b in blocks)


def render(answer: Answer, quotes: bool = False) -> str:
    """The whole answer as text: short answer, text, age note, sources."""
    return head(answer) + answer.answer + tail(answer, quotes)


def strip_rendered(text: str) -> str:
    """An assistant turn a chat client sends back as history, without the lists `tail` appended."""
    for heading in (f"\n\n{SOURCES_HEADING}\n", f"\n\n{CLOSEST_HEADING}\n", "\n\n(Newest source cited:"):
        text = text.split(heading, 1)[0]
    return text.strip()
