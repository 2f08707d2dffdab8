"""Follow-ups made standalone without an LLM, from the entities and topic of the previous turns.

"it", "its", "the company" name the organisation the last question was about (or, when that question asked
for a name, the one its answer gave); "he", "she" a person; "they" the names of the last question together;
"which other AI company ..." becomes "which AI company other than OpenAI ..."; an ellipsis ("And in 2024?",
"What about Anthropic?") is the last question with its date or its subject replaced. Questions that need
none of this are returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.models import ChatTurn
from rag.question import event_dates, proper_names, read_question


def _words(*words: str) -> re.Pattern[str]:
    """Any of these words (or phrases) as whole words, in any case."""
    return re.compile(rf"\b(?:{'|'.join(words)})\b", re.I)


_LEAD = re.compile(r"^\s*(?:and|so|but|then|also|ok(?:ay)?|well)\b[\s,]*", re.I)
_ELLIPSIS = re.compile(r"^\s*(?:(?:and\s+)?(?:what|how)\s+about\s+|and\s+)(?P<rest>.+?)\s*\??\s*$", re.I)
_VERB = re.compile(
    r"\b(?:is|are|was|were|be|did|does|do|has|have|had|can|could|will|would|should|won|said|say|says|made|"
    r"got|get|\w+ed)\b",
    re.I,
)
# "the company" standing for the organisation, not its possessive ("the company's": _ITS)
_THE_COMPANY = re.compile(r"\bthe (?:company|firm|group|startup|chipmaker|carmaker|bank)\b(?!['’]s)", re.I)
# "it" as a subject ("How much has it invested"), not as an object ("When did they sign it?")
_IT = re.compile(
    r"(^|\b(?:has|have|had|did|does|do|is|was|will|would|can|could|should|that|when|where|why)\s)it\b(?!['’]s)",
    re.I,
)
_ITS = _words("its", "the (?:company|firm|group|startup)['’]s")
_PERSON = _words("he", "she", "him")
_PERSONS = _words("his", "her")
_THEY = _words("they", "them")
_THEIR = _words("their")
_OTHER = re.compile(
    r"\b(which|what)\s+other\s+((?:[\w-]+\s+){0,2}?)(compan(?:y|ies)|firms?|persons?|people|countr(?:y|ies)|teams?|"
    r"organi[sz]ations?|startups?|banks?|groups?|makers?|players?|outlets?|investors?|partners?|rivals?|cit(?:y|ies))\b",
    re.I,
)
_OUTLET_PREFIX = re.compile(r"^[^:\n“]{1,80}\(\d{4}-\d{2}-\d{2}\):\s*", re.M)
_DATE_PHRASE = re.compile(r"\s*\b(?:in|during|of)\s+(?:[A-Z][a-z]+\s+)?(?:19|20)\d{2}\b")


def _answer_names(text: str) -> list[str]:
    """Names an answer gives, without the "Outlet (date):" lead of quoted lines or citation markers."""
    plain = _OUTLET_PREFIX.sub("", re.sub(r"\[\d+\]", "", text))
    return [s.text for s in proper_names(plain)]


def _referents(history: Sequence[ChatTurn]) -> tuple[str | None, list[str], list[str]]:
    """(last user question, its names, the names the last answer gave)."""
    users = [t.content for t in history if t.role == "user"]
    answers = [t.content for t in history if t.role == "assistant"]
    previous = users[-1] if users else None
    names = list(read_question(previous).entities) if previous else []
    return previous, names, _answer_names(answers[-1]) if answers else []


def condense(question: str, history: Sequence[ChatTurn]) -> str:
    previous, names, answered = _referents(history)
    if previous is None:
        return question
    asked_for_name = read_question(previous).answer_type in ("person", "organisation", "place", "name")
    current = question.strip()
    fresh = [n for n in names if n.lower() not in current.lower()]
    # The thing talked about: the name the last answer gave when the last question asked for one.
    subject = (answered[0] if asked_for_name and answered else None) or (fresh[0] if fresh else None)
    if not subject and answered:
        subject = answered[0]

    if (m := _ELLIPSIS.match(current)) and not _VERB.search(m.group("rest")):
        return _ellipsis(previous, m.group("rest"), names)

    rewritten = _LEAD.sub("", current)
    rewritten = rewritten[:1].upper() + rewritten[1:]
    if m := _OTHER.search(rewritten):
        other = fresh[-1] if fresh else subject
        if other:
            head = f"{m.group(1)} {m.group(2)}{m.group(3)} other than {other}"
            rewritten = rewritten[: m.start()] + head + rewritten[m.end() :]
    if subject:
        rewritten = _ITS.sub(f"{subject}'s", rewritten)
        rewritten = _THE_COMPANY.sub(subject, rewritten)
        rewritten = _IT.sub(lambda m: m.group(1) + subject, rewritten)
    person = next((n for n in [*answered, *names] if len(n.split()) >= 2), None)
    if person:
        rewritten = _PERSONS.sub(f"{person}'s", rewritten)
        rewritten = _PERSON.sub(person, rewritten)
    group = " and ".join(names[:2]) if len(names) >= 2 else subject
    if group:
        rewritten = _THEIR.sub(f"{group}'s", rewritten)
        rewritten = _THEY.sub(group, rewritten)
    return rewritten


def _ellipsis(previous: str, rest: str, names: list[str]) -> str:
    """ "And in 2024?" after "How much has Microsoft invested in OpenAI?": the last question, re-dated; "What
    about Anthropic?": the last question with its subject replaced."""
    base = previous.strip().rstrip("?").rstrip()
    rest = rest.strip().rstrip("?").strip()
    if event_dates(rest) or _DATE_PHRASE.match(" " + rest):
        base = _DATE_PHRASE.sub("", base)
        return f"{base} {rest}?"
    if names:
        return f"{base.replace(names[0], rest, 1)}?"
    return f"{base} {rest}?"
