"""Chat UIs' housekeeping prompts are recognised and answered without a news search."""

from __future__ import annotations

import json

import pytest

from rag.errors import LLMUnavailable
from rag.side_tasks import detect, offline_reply, reply

HISTORY = (
    "<chat_history>\nUSER: How much has Microsoft invested in OpenAI?\nASSISTANT: $13 billion [1]\n</chat_history>"
)


def open_webui(task: str, output: str) -> str:
    return (
        f"### Task:\n{task}\n### Guidelines:\n- Keep it short.\n### Output:\nJSON format: {output}\n"
        f"### Chat History:\n{HISTORY}"
    )


@pytest.mark.parametrize(
    ("prompt", "kind", "key"),
    [
        (
            open_webui("Generate a concise, 3-5 word title with an emoji for the chat.", '{ "title": "..." }'),
            "title",
            "title",
        ),
        (open_webui("Generate 1-3 broad tags for the main themes of the chat.", '{ "tags": [] }'), "tags", "tags"),
        (open_webui("Suggest 3-5 relevant follow-up questions.", '{ "follow_ups": [] }'), "follow_ups", "follow_ups"),
        (open_webui("Generate search queries for the latest question.", '{ "queries": [] }'), "queries", "queries"),
    ],
)
def test_open_webui_tasks(prompt: str, kind: str, key: str) -> None:
    task = detect(prompt)
    assert task is not None and task.kind == kind
    assert "Microsoft" in task.conversation and "### Task" not in task.conversation
    assert key in json.loads(offline_reply(task))


def test_title_comes_from_the_first_question_and_queries_from_the_last() -> None:
    task = detect(open_webui("Generate a concise title for the chat.", '{ "title": "..." }'))
    assert task is not None
    assert json.loads(offline_reply(task)) == {"title": "Microsoft Invested in OpenAI"}
    queries = detect(open_webui("Write search queries for the conversation.", '{ "queries": [] }'))
    assert queries is not None
    assert json.loads(offline_reply(queries)) == {"queries": ["How much has Microsoft invested in OpenAI?"]}


def test_librechat_title_request_is_plain_text() -> None:
    task = detect(
        "Please generate a concise, 5-word-or-less title for the conversation, using its same language.\n\n"
        "User: Who leads OpenAI's funding round?\nAI: Thrive Capital [1]"
    )
    assert task is not None and task.kind == "title"
    assert not offline_reply(task).startswith("{")


@pytest.mark.parametrize(
    "question",
    [
        "How much has Microsoft invested in OpenAI?",
        "What title did the article give Sam Altman?",
        "Which tags does the Verge use for AI stories?",
        "### Notes: what did Reuters report?",
    ],
)
def test_news_questions_are_not_side_tasks(question: str) -> None:
    assert detect(question) is None


def test_the_llm_answers_when_configured_and_rules_when_it_fails() -> None:
    task = detect(open_webui("Generate a concise title for the chat.", '{ "title": "..." }'))
    assert task is not None
    assert reply(task, lambda prompt: '{"title": "📈 Microsoft and OpenAI"}') == '{"title": "📈 Microsoft and OpenAI"}'

    def down(prompt: str) -> str:
        raise LLMUnavailable("cannot reach the LLM endpoint")

    assert json.loads(reply(task, down)) == {"title": "Microsoft Invested in OpenAI"}
