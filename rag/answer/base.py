"""The interface both answerers share: stream text pieces, then a Draft that says what the text is."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from rag.models import ChatTurn, Hit, RefusalReason, ShortAnswer


@dataclass(frozen=True)
class AnswerContext:
    question: str
    hits: Sequence[Hit]
    as_of: datetime
    recency: bool = False
    query_vector: np.ndarray | None = None  # from retrieval, so answering need not embed the question again


@dataclass(frozen=True)
class Draft:
    """An answer before verification: `[n]` markers number the hits 1-based, in any format."""

    text: str
    refused: bool = False
    refusal_reason: RefusalReason | None = None
    conflicts: tuple[str, ...] = ()
    # The answering span; `citation` is the hit's 1-based marker, renumbered with the citations.
    short_answer: ShortAnswer | None = None
    truncated: bool = False  # the model stopped at its token limit


class Answerer(Protocol):
    mode: str

    def run(self, context: AnswerContext) -> Iterator[str | Draft]:
        """Yield text pieces as they are produced, then exactly one Draft."""
        ...

    def complete(self, prompt: str) -> str:
        """A reply to a prompt that is not a news question (a chat UI's title request); an answerer
        without a model says nothing (empty), and the caller's rules answer instead."""
        ...

    def condense(self, question: str, history: Sequence[ChatTurn]) -> str:
        """A follow-up rewritten as a standalone question for retrieval."""
        ...


def words_as_tokens(text: str) -> Iterator[str]:
    """A finished text as stream pieces (word plus following space), for answerers that do not stream."""
    start = 0
    for i, char in enumerate(text):
        if char == " ":
            yield text[start : i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]
