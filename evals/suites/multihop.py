"""MultiHop-RAG adapter: `articles.jsonl` is the corpus, every `queries_*.jsonl` a source of questions.

Query fields: id, question, answer, question_type (inference_query, comparison_query, temporal_query,
null_query), evidence[] (url, title, source, published_at, fact). `null_query` ("Insufficient
information.") becomes an expected refusal; "yes"/"no" answers are scored as yes/no; the rest as entities.
Gold evidence is the evidence urls (matched to stored articles after URL canonicalisation).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from evals.metrics import normalize_answer
from evals.suites.model import AnswerType, Suite, SuiteError, SuiteHeader, SuiteItem

NULL_TYPE = "null_query"


def _item(record: dict, where: str, id_prefix: str) -> SuiteItem:
    qtype = str(record.get("question_type") or "general")
    answer = record.get("answer")
    answers = [answer] if isinstance(answer, str) else [str(a) for a in (answer or [])]
    answer_type: AnswerType
    if qtype == NULL_TYPE:
        answer_type = "refusal"
        answers = []
    elif answers and all(normalize_answer(a) in ("yes", "no") for a in answers):
        answer_type = "yes_no"
    else:
        answer_type = "entity"
    urls = [e["url"] for e in record.get("evidence") or [] if isinstance(e, dict) and e.get("url")]
    try:
        return SuiteItem(
            id=f"{id_prefix}{record['id']}",
            question=record["question"],
            question_type=qtype,
            answer=tuple(answers),
            answer_type=answer_type,
            evidence={"urls": tuple(dict.fromkeys(urls))},
        )
    except (KeyError, ValidationError) as exc:
        raise SuiteError(f"{where}: not a MultiHop-RAG query: {exc}") from exc


def load_multihop(data_dir: str | Path) -> Suite:
    folder = Path(data_dir)
    articles = folder / "articles.jsonl"
    query_files = sorted(folder.glob("queries_*.jsonl"))
    if not articles.exists():
        raise SuiteError(f"{folder}: no articles.jsonl (pass --data with the MultiHop-RAG folder)")
    if not query_files:
        raise SuiteError(f"{folder}: no queries_*.jsonl")
    items: list[SuiteItem] = []
    seen: set[str] = set()
    for qfile in query_files:
        prefix = "" if len(query_files) == 1 else f"{qfile.stem.removeprefix('queries_')}:"
        for lineno, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{qfile}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{where}: invalid JSON: {exc.msg}") from exc
            item = _item(record, where, prefix)
            if item.id in seen:
                raise SuiteError(f"{where}: duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    header = SuiteHeader(
        name="multihop",
        description=f"MultiHop-RAG ({', '.join(q.name for q in query_files)})",
        corpus=(str(articles),),
    )
    return Suite(header=header, items=tuple(items), corpus_paths=(articles.resolve(),), origin=str(folder))
