"""Fixtures for the eval tests: a tiny corpus and suite file (three articles, five questions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ARTICLES = [
    {
        "title": "Eagles win Super Bowl LIX",
        "source": "The Ledger Review",
        "published_at": "2025-02-10T05:00:00Z",
        "url": "https://ledger.example/eagles",
        "body": "Quarterback Jalen Hurts was named the game's most valuable player. The Eagles beat the Chiefs 40-22.",
    },
    {
        "title": "Fed cuts rates by half a point",
        "source": "Market Signal",
        "published_at": "2024-09-18T19:30:00Z",
        "url": "https://signal.example/fed",
        "body": "The Federal Reserve cut its benchmark rate by half a percentage point. Stocks ended slightly lower.",
    },
    {
        "title": "Willow quantum chip",
        "source": "Tech Times",
        "published_at": "2024-12-09T18:00:00Z",
        "url": "https://times.example/willow",
        "body": "Google's Willow chip has 105 qubits. Errors fell as the arrays grew.",
    },
]
ITEMS = [
    {
        "id": "mvp",
        "question": "Who was the most valuable player of the Super Bowl?",
        "question_type": "fact",
        "answer": "Jalen Hurts",
        "answer_type": "entity",
        "evidence": {"urls": ["https://ledger.example/eagles"]},
    },
    {
        "id": "fed",
        "question": "Did the Federal Reserve cut rates by half a point?",
        "question_type": "yes_no",
        "answer": "yes",
        "answer_type": "yes_no",
        "evidence": {"urls": ["https://signal.example/fed"]},
    },
    {
        "id": "qubits",
        "question": "How many qubits does Willow have?",
        "question_type": "fact",
        "answer": "105 qubits",
        "answer_type": "entity",
        "evidence": {"quotes": ["Willow chip has 105 qubits"]},
    },
    {
        "id": "tour",
        "question": "Who won the Tour de France?",
        "question_type": "unanswerable",
        "answer_type": "refusal",
    },
    {
        "id": "window",
        "question": "What did the Fed do?",
        "question_type": "date_window",
        "answer": "half",
        "answer_type": "free",
        "filters": {"sources": ["Market Signal"], "since": "2024-09", "until": "2024-09"},
        "evidence": {"urls": ["https://signal.example/fed"]},
    },
]


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("suite")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in ARTICLES))
    path = tmp_path / "tiny.jsonl"
    header = {"suite": {"name": "tiny", "corpus": ["corpus.jsonl"]}}
    path.write_text("".join(json.dumps(r) + "\n" for r in [header, *ITEMS]))
    return path
