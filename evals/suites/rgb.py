"""RGB `en_fact` adapter. Every passage becomes an Article in one store; each question is restricted to
its own passages with `Query.article_ids`. Per RGB question up to four items:

- `negative_rejection`: only the `negative` passages; the right answer is a refusal.
- `noise_robustness`: `positive` + `negative`; the answer must contain the gold answer.
- `counterfactual`: only `positive_wrong` (they state `fakeanswer`): does the answer repeat the false
  fact, or flag it (a refusal or a reported conflict)?
- `conflicting_sources`: `positive` + `positive_wrong`: the retrieved sources disagree; does the answer
  say so instead of picking one silently?

RGB answers are a string, a list of strings (all required) or a list of lists (each inner list holds
alternatives, one of which must appear), as in RGB's own `checkanswer`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.suites.model import Suite, SuiteError, SuiteHeader, SuiteItem
from ingest.validate import clean_body
from rag.models import Article

CONDITIONS = ("negative_rejection", "noise_robustness", "counterfactual", "conflicting_sources")
SOURCE = "rgb"


def passage_id(text: str) -> str:
    """Same passage text, same article: passages repeated across questions are stored once."""
    normalised = " ".join(text.split()).casefold()
    return "rgb-" + hashlib.sha256(normalised.encode()).hexdigest()[:16]


def passage_title(body: str, limit: int = 80) -> str:
    """RGB passages have no headline: the passage's own opening words stand in for one. (Titling them with
    the question put the question's words into every passage's embedding, so every passage looked on topic.)"""
    first = re.split(r"(?<=[.!?])\s", body, maxsplit=1)[0]
    if len(first) <= limit:
        return first
    return first[:limit].rsplit(" ", 1)[0] + "…"


def answer_groups(answer: Any) -> list[tuple[str, ...]]:
    """RGB's answer shapes as groups that must all match, each a tuple of alternatives."""
    if isinstance(answer, str):
        return [(answer,)]
    groups: list[tuple[str, ...]] = []
    for part in answer or []:
        if isinstance(part, str):
            groups.append((part,))
        elif isinstance(part, list) and part:
            groups.append(tuple(str(p) for p in part))
    return groups


def load_rgb(data_dir: str | Path, conditions: tuple[str, ...] = CONDITIONS) -> Suite:
    folder = Path(data_dir)
    path = folder / "en_fact.jsonl" if folder.is_dir() else folder
    if not path.exists():
        raise SuiteError(f"{folder}: no en_fact.jsonl (pass --data with the RGB folder)")
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise SuiteError(f"unknown RGB conditions {sorted(unknown)}; known: {', '.join(CONDITIONS)}")
    articles: dict[str, Article] = {}
    items: list[SuiteItem] = []

    def ids_for(passages: list[Any]) -> tuple[str, ...]:
        out: list[str] = []
        for text in passages:
            if not isinstance(text, str) or not text.strip():
                continue
            body = clean_body(text)
            aid = passage_id(body)
            if aid not in articles:
                articles[aid] = Article(
                    id=aid,
                    title=passage_title(body),
                    body=body,
                    source=SOURCE,
                    published_at=None,
                    alt_urls=(),
                    origin=str(path),
                )
            out.append(aid)
        return tuple(dict.fromkeys(out))

    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
            qid, query = record["id"], str(record["query"])
            groups = answer_groups(record["answer"])
            fake = record.get("fakeanswer")
            positive = ids_for(record.get("positive") or [])
            wrong = ids_for(record.get("positive_wrong") or [])
            negative = ids_for(record.get("negative") or [])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SuiteError(f"{where}: not an RGB record: {exc}") from exc
        if not groups:
            raise SuiteError(f"{where}: no answer")
        fakes = tuple(fake) if isinstance(fake, list) else ((fake,) if fake else ())
        answered = {"answer": groups[0], "must_include": tuple(groups[1:]), "answer_type": "entity"}
        specs: dict[str, dict[str, Any]] = {
            "negative_rejection": {"ids": negative, "answer_type": "refusal"},
            "noise_robustness": {
                "ids": positive + negative,
                **answered,
                "evidence": {"article_ids": positive},
            },
            "counterfactual": {"ids": wrong, **answered, "fake_answer": fakes},
            "conflicting_sources": {"ids": positive + wrong, **answered, "fake_answer": fakes},
        }
        for condition in conditions:
            spec = dict(specs[condition])
            ids = spec.pop("ids")
            if not ids or (condition in ("counterfactual", "conflicting_sources") and not fakes):
                continue
            try:
                items.append(
                    SuiteItem(
                        id=f"rgb-{qid}-{condition}",
                        question=query,
                        question_type=condition,
                        filters={"article_ids": ids},
                        **spec,
                    )
                )
            except ValidationError as exc:
                raise SuiteError(f"{where}: {exc}") from exc
    if not items:
        raise SuiteError(f"{path}: no questions")
    header = SuiteHeader(name="rgb", description=f"RGB en_fact ({', '.join(conditions)})", corpus=(str(path),))
    return Suite(header=header, items=tuple(items), articles=tuple(articles.values()), origin=str(path))
