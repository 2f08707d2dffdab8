"""Housekeeping prompts chat UIs send to the chat model: not news questions, so no news search.

Open WebUI asks its task model for a chat title, tags, follow-up suggestions, search queries and
autocompletions ("### Task: ..." with the conversation inside <chat_history>); LibreChat asks for a
short conversation title. Searching the news for such a prompt costs a retrieval and answers nothing
(and a long history trips the question-length limit). They are recognised here and answered briefly:
by the configured LLM when there is one, else by a few rules over the conversation itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Literal

from rag.errors import LLMError
from rag.models import Frozen

SideTaskKind = Literal["title", "tags", "follow_ups", "queries", "autocomplete"]

_OPEN_WEBUI = re.compile(r"^\s*#{2,3}\s*Task:", re.I)
_HISTORY = re.compile(r"<chat_history>(.*?)</chat_history>", re.S | re.I)
_KINDS: tuple[tuple[SideTaskKind, re.Pattern[str]], ...] = (
    ("follow_ups", re.compile(r"follow[- ]?up", re.I)),
    ("tags", re.compile(r"\btags?\b", re.I)),
    ("queries", re.compile(r"\bquer(y|ies)\b", re.I)),
    ("autocomplete", re.compile(r"autocomplet|continue the (text|sentence)|completion", re.I)),
    ("title", re.compile(r"\btitle\b", re.I)),
)
# LibreChat: "Please generate a concise, 5-word-or-less title for the conversation, ..."
_TITLE_REQUEST = re.compile(
    r"\b(generate|write|create|give)\b.{0,60}\btitle\b.{0,40}\b(conversation|chat)\b", re.I | re.S
)
_SPEAKER = re.compile(r"^\s*(USER|ASSISTANT)\s*:\s*", re.I | re.M)
_LEAD = re.compile(
    r"^((how|what|which|who|whom|when|where|why|much|many|did|does|do|is|are|was|were|has|have|had|can|could|"
    r"will|would|and|so|tell me)\b[\s,]*)+",
    re.I,
)
_SMALL = frozenset("a an and as at by for from in into of on or the to with".split())


class SideTask(Frozen):
    kind: SideTaskKind
    prompt: str  # the UI's whole prompt, for an LLM to follow
    conversation: str  # the chat history it is about


def detect(prompt: str) -> SideTask | None:
    """A chat UI's housekeeping prompt, or None for a real question."""
    if _OPEN_WEBUI.search(prompt):
        history = _HISTORY.search(prompt)
        task_text = prompt[: history.start()] if history else prompt
        kind = next((k for k, pattern in _KINDS if pattern.search(task_text)), None)
        if kind is not None:
            return SideTask(kind=kind, prompt=prompt, conversation=history.group(1).strip() if history else "")
    head = prompt[:400]
    if _TITLE_REQUEST.search(head):
        return SideTask(kind="title", prompt=prompt, conversation=prompt)
    return None


def _user_lines(conversation: str) -> list[str]:
    lines: list[str] = []
    for block in re.split(r"\n(?=\s*(?:USER|ASSISTANT)\s*:)", conversation, flags=re.I):
        if re.match(r"\s*USER\s*:", block, re.I):
            lines.append(_SPEAKER.sub("", block, count=1).strip())
    if not lines:  # no speaker labels: the conversation is what the user wrote
        lines = [line.strip() for line in conversation.splitlines() if line.strip()][:1]
    return lines


def _title(question: str) -> str:
    words = _LEAD.sub("", question.strip()).rstrip("?.! ").split()[:6] or ["News", "question"]
    return " ".join(w if w.lower() in _SMALL and i else w[:1].upper() + w[1:] for i, w in enumerate(words))


def offline_reply(task: SideTask) -> str:
    """What a UI can use without an LLM: the title from the first question, the last question as the
    search query, no tags or suggestions invented."""
    questions = _user_lines(task.conversation)
    first = questions[0] if questions else ""
    if task.kind == "title":
        title = _title(first)
        return json.dumps({"title": title}) if _OPEN_WEBUI.search(task.prompt) else title
    if task.kind == "tags":
        return json.dumps({"tags": ["News"]})
    if task.kind == "follow_ups":
        return json.dumps({"follow_ups": []})
    if task.kind == "queries":
        return json.dumps({"queries": [questions[-1]] if questions else []})
    return json.dumps({"text": ""})


def reply(task: SideTask, complete: Callable[[str], str] | None = None) -> str:
    """Through the LLM when one is configured (`complete` sends one prompt); a failing LLM is no reason
    to fail a title, so the rules answer then."""
    if complete is not None:
        try:
            text = complete(task.prompt).strip()
        except LLMError:
            text = ""
        if text:
            return text
    return offline_reply(task)
