"""Run a suite against the real service in an isolated temporary store and score every question.

One run: a fresh data folder under the system temp dir (never the user's store or Chroma server), the
suite's corpus ingested with the normal pipeline, then per question:

1. retrieval, always: `qa.retrieve` deep enough to see 10 distinct articles, scored at article level
   against the gold evidence (Hits@k, Recall@k, MRR@10, nDCG@10);
2. the answer, unless `retrieval_only`: `qa.ask`, scored for exact / contains match, refusal,
   citation validity (every marker resolves, every quote verbatim at start:end) and citation
   precision / recall against the gold evidence; latency per stage from the answer's timings.

An exception while answering one question is recorded on that question (and counted), not fatal.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from evals import metrics as m
from evals.suites.model import REPO_ROOT, Suite, SuiteItem
from rag.catalog import ArticleFilter
from rag.models import Answer, Hit, Query
from rag.settings import Settings, load_settings

ARTICLE_DEPTH = 10  # retrieval metrics look at the top 10 distinct articles
RETRIEVAL_KS = (1, 4, 10)
FORBIDDEN_OVERRIDES = {"data_dir", "chroma_url"}  # an eval never touches the user's store


class QA(Protocol):
    def ask(self, query: Query) -> Answer: ...

    def retrieve(self, query: Query, k: int) -> list[Hit]: ...


QAFactory = Callable[[Any], QA]


class EvalError(ValueError):
    """A usage problem with an eval run (bad --set, unknown suite)."""


@dataclass
class RunOptions:
    limit: int | None = None
    retrieval_only: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    baseline: bool = False  # also run the plain LangChain dense-only baseline (retrieval)
    judge: bool = False  # LLM judge of answers; needs an LLM (NEWSRAG_LLM_MODEL)
    progress: bool = True


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings to Settings overrides; unknown keys and store locations are refused."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise EvalError(f"--set wants KEY=VALUE, got {pair!r}")
        if key not in Settings.model_fields:
            raise EvalError(f"--set {key}: not a setting (known: {', '.join(sorted(Settings.model_fields))})")
        if key in FORBIDDEN_OVERRIDES:
            raise EvalError(f"--set {key}: an eval always runs in its own temporary store")
        out[key] = value
    return out


def eval_settings(data_dir: Path, overrides: dict[str, Any]) -> Settings:
    return load_settings(data_dir=data_dir, chroma_url=None, collection="newsrag-eval", **overrides)


def git_commit() -> dict[str, Any]:
    """The commit evaluated. Outside a git checkout (an exported snapshot, a container) the commit comes
    from NEWSRAG_COMMIT when set."""
    import os

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=20, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "--verify", "HEAD") if (REPO_ROOT / ".git").exists() else None
    if commit is None:
        exported = os.environ.get("NEWSRAG_COMMIT")
        return {"commit": exported, "dirty": False if exported else None}
    dirty = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def make_query(item: SuiteItem) -> Query:
    return Query(
        question=item.question,
        history=item.history,
        sources=item.filters.sources,
        since=item.filters.since,
        until=item.filters.until,
        as_of=item.as_of,
        article_ids=item.filters.article_ids,
        k=None,
    )


# ------------------------------------------------------------------ gold evidence


@dataclass
class GoldIndex:
    """Maps gold evidence (urls, ids, quotes) to the ids of stored articles."""

    by_url: dict[str, str]
    alias: dict[str, str]
    bodies: dict[str, str]

    @classmethod
    def build(cls, store: Any) -> GoldIndex:
        from ingest.validate import canonical_url

        catalog = store.catalog
        articles = catalog.list(ArticleFilter(), limit=max(1, catalog.count()))
        by_url: dict[str, str] = {}
        for a in articles:
            for url in (a.url, *a.alt_urls):
                if url:
                    by_url.setdefault(canonical_url(url), a.id)
        ids = [a.id for a in articles]
        alias = {k: v.article_id for k, v in catalog.states(ids).items()}
        return cls(by_url=by_url, alias=alias, bodies={a.id: a.body for a in articles})

    def resolve(self, item: SuiteItem) -> tuple[list[str], list[str]]:
        """(gold article ids, evidence that matched no stored article)."""
        from ingest.validate import canonical_url

        gold: list[str] = []
        missing: list[str] = []
        for url in item.evidence.urls:
            aid = self.by_url.get(canonical_url(url))
            if aid:
                gold.append(aid)
            else:
                missing.append(url)
        for aid in item.evidence.article_ids:
            found = self.alias.get(aid) or (aid if aid in self.bodies else None)
            if found:
                gold.append(found)
            else:
                missing.append(aid)
        for quote in item.evidence.quotes:
            needle = " ".join(quote.split())
            hits = [aid for aid, body in self.bodies.items() if needle in " ".join(body.split())]
            if hits:
                gold.extend(hits)
            else:
                missing.append(quote)
        return list(dict.fromkeys(gold)), missing


# ------------------------------------------------------------------ scoring


def retrieval_scores(ranked: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in RETRIEVAL_KS:
        out[f"hits@{k}"] = m.hits_at_k(ranked, gold, k)
    for k in (4, 10):
        out[f"recall@{k}"] = m.recall_at_k(ranked, gold, k)
    out["mrr@10"] = m.mrr_at_k(ranked, gold, 10)
    out["ndcg@10"] = m.ndcg_at_k(ranked, gold, 10)
    return out


def score_answer(item: SuiteItem, answer: Answer, gold: Sequence[str], bodies: dict[str, str]) -> dict[str, Any]:
    text = answer.answer
    refused = answer.refused
    scores: dict[str, Any] = {
        "exact_match": None,
        "contains": None,
        "correct": None,
        "refusal_ok": refused == item.should_refuse,
    }
    if item.answer_type == "yes_no":
        scores["exact_match"] = (not refused) and m.yes_no_match(text, item.answer)
        scores["correct"] = scores["exact_match"]
    elif item.answer_type in ("entity", "free"):
        contains = (not refused) and (not item.answer or m.contains_match(text, item.answer))
        contains = contains and m.contains_all(text, item.must_include)
        scores["contains"] = contains
        if item.answer_type == "entity":
            scores["exact_match"] = (not refused) and bool(item.answer) and m.exact_match(text, item.answer)
        scores["correct"] = contains
    else:
        scores["correct"] = refused
    if item.counterfactual:
        flagged = refused or bool(answer.conflicts) or answer.refusal_reason == "sources_conflict"
        scores["conflict_flagged"] = flagged
        scores["fake_repeated"] = (not flagged) and m.contains_match(text, item.fake_answer)
    check = m.check_citations(text, answer.citations, bodies)
    scores["citation_valid"] = check.valid
    scores["citation_problems"] = check.problems
    scores["unreferenced_citations"] = list(check.unreferenced)
    cited = list(dict.fromkeys(c.article_id for c in answer.citations))
    if gold and not refused:
        scores["citation_precision"] = m.citation_precision(cited, gold)
        scores["citation_recall"] = m.citation_recall(cited, gold)
    if answer.citations:
        scores["supported_share"] = sum(c.supported for c in answer.citations) / len(answer.citations)
    return scores


def failed_scores(item: SuiteItem) -> dict[str, Any]:
    """A question whose answer raised: wrong for accuracy, not refused; citations not applicable."""
    return {
        "exact_match": False if item.answer_type in ("yes_no", "entity") else None,
        "contains": False if item.answer_type in ("entity", "free") else None,
        "correct": False,
        "refusal_ok": not item.should_refuse,
        "citation_valid": None,
        "citation_problems": [],
        **({"conflict_flagged": False, "fake_repeated": False} if item.counterfactual else {}),
    }


def answer_record(answer: Answer) -> dict[str, Any]:
    return {
        "text": answer.answer,
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
        "standalone_question": answer.standalone_question,
        "conflicts": list(answer.conflicts),
        "mode": answer.mode,
        "removed_markers": answer.removed_markers,
        "newest_source_at": answer.newest_source_at.isoformat() if answer.newest_source_at else None,
        "citations": [
            {
                "n": c.n,
                "article_id": c.article_id,
                "chunk_id": c.chunk_id,
                "source": c.source,
                "url": c.url,
                "published_at": c.published_at.isoformat() if c.published_at else None,
                "quote": c.quote,
                "start": c.start,
                "end": c.end,
                "supported": c.supported,
            }
            for c in answer.citations
        ],
        "sources": [s.article_id for s in answer.sources],
    }


# ------------------------------------------------------------------ aggregation


def _rate(records: list[dict[str, Any]], key: str) -> float | None:
    return m.mean(r["scores"].get(key) for r in records if "scores" in r)


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """All metrics over a set of per-question records (the whole run, or one question type)."""
    out: dict[str, Any] = {"n": len(records)}
    scored = [r for r in records if r.get("retrieval")]
    retrieval: dict[str, Any] = {"n": len(scored)}
    if scored:
        for key in scored[0]["retrieval"]:
            retrieval[key] = m.mean(r["retrieval"][key] for r in scored)
    out["retrieval"] = retrieval
    baseline = [r for r in records if r.get("baseline", {}).get("retrieval")]
    if baseline:
        base: dict[str, Any] = {"n": len(baseline)}
        for key in baseline[0]["baseline"]["retrieval"]:
            base[key] = m.mean(r["baseline"]["retrieval"][key] for r in baseline)
        base["latency_ms"] = m.latency_summary([r["baseline"]["latency_ms"] for r in baseline])
        out["baseline_retrieval"] = base
    out["latency_ms"] = {
        "retrieve_only": m.latency_summary([r["latency_ms"]["retrieve_only"] for r in records if "latency_ms" in r])
    }
    answered = [r for r in records if "scores" in r]  # asked, including those that raised
    ok = [r for r in answered if r.get("answer")]  # an Answer came back
    out["errors"] = sum(1 for r in records if r.get("error"))
    if not answered:
        return out
    plain = [r for r in answered if not r["item"]["fake_answer"]]
    by_type = lambda *types: [r for r in plain if r["item"]["answer_type"] in types]  # noqa: E731
    out["answers"] = {
        "n": len(plain),
        "accuracy": _rate(plain, "correct"),
        "exact_match": _rate(by_type("yes_no", "entity"), "exact_match"),
        "n_exact_match": len(by_type("yes_no", "entity")),
        "contains": _rate(by_type("entity", "free"), "contains"),
        "n_contains": len(by_type("entity", "free")),
        "yes_no_accuracy": _rate(by_type("yes_no"), "exact_match"),
        "n_yes_no": len(by_type("yes_no")),
    }
    verdicts = [r["scores"]["judge"] for r in plain if "judge" in r["scores"]]
    if verdicts:
        out["answers"]["judge_accuracy"] = m.mean(verdicts)
        out["answers"]["judge_coverage"] = sum(v is not None for v in verdicts) / len(verdicts)
    refused = lambda r: bool(r.get("answer") and r["answer"]["refused"])  # noqa: E731
    refusal = m.refusal_scores((r["item"]["answer_type"] == "refusal", refused(r)) for r in plain)
    answerable = [r for r in plain if r["item"]["answer_type"] != "refusal"]
    out["refusals"] = {
        "precision": refusal.precision,
        "recall": refusal.recall,
        "f1": refusal.f1,
        "tp": refusal.tp,
        "fp": refusal.fp,
        "fn": refusal.fn,
        "tn": refusal.tn,
        "false_refusal_rate": m.mean(refused(r) for r in answerable),
    }
    n_valid = sum(1 for r in ok if r["scores"]["citation_valid"])
    out["citations"] = {
        "validity": n_valid / len(ok) if ok else None,
        "invalid_answers": len(ok) - n_valid,
        "precision": _rate(answered, "citation_precision"),
        "recall": _rate(answered, "citation_recall"),
        "supported_share": _rate(answered, "supported_share"),
        "per_answer": m.mean(len(r["answer"]["citations"]) for r in ok),
        "removed_markers": sum(r["answer"]["removed_markers"] for r in ok),
    }
    counterfactual = [r for r in answered if r["item"]["fake_answer"]]
    if counterfactual:
        out["counterfactual"] = {
            "n": len(counterfactual),
            "fake_repeated": _rate(counterfactual, "fake_repeated"),
            "conflict_flagged": _rate(counterfactual, "conflict_flagged"),
            "correct": _rate(counterfactual, "correct"),
        }
    for stage in ("retrieve", "answer", "total", "wall"):
        values = [r["latency_ms"][stage] for r in answered if r["latency_ms"].get(stage) is not None]
        out["latency_ms"][stage] = m.latency_summary(values)
    return out


# ------------------------------------------------------------------ the run


def _progress(total: int | None, desc: str, enabled: bool, unit: str = " questions") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, unit=unit, dynamic_ncols=True)


def default_qa_factory(runtime: Any) -> QA:
    from rag.chain import make_qa  # type: ignore[import-not-found, unused-ignore]

    return make_qa(runtime)  # type: ignore[no-any-return, unused-ignore]


def run_suite(
    suite: Suite,
    options: RunOptions,
    qa_factory: QAFactory | None = None,
    embedder: Any | None = None,
    judge_model: Any | None = None,
) -> dict[str, Any]:
    """Ingest the suite's corpus into a fresh temporary store, ask every question, return the report data.

    `qa_factory` builds the service from the runtime (default: `rag.chain.make_qa`); `embedder` reuses an
    already loaded embedder (tests), else the settings choose one. `judge_model` (a LangChain chat
    model) replaces the configured LLM as the judge when `options.judge` is set.
    """
    from ingest.pipeline import ingest
    from rag.runtime import Runtime, open_runtime
    from rag.settings import prepare_environment
    from rag.store import make_store

    prepare_environment()
    suite = suite.limited(options.limit)
    started = datetime.now(UTC)
    t_run = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsrag-eval-") as tmp:
        settings = eval_settings(Path(tmp) / "data", options.overrides)
        if options.judge and judge_model is None:
            if not settings.llm_model:
                raise EvalError("--judge needs an LLM: set NEWSRAG_LLM_MODEL (and OPENAI_BASE_URL / OPENAI_API_KEY)")
            from evals.judge import make_judge_model

            judge_model = make_judge_model(settings)
        if embedder is None:
            runtime = open_runtime(settings)
        else:
            runtime = Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))
        try:
            with _progress(None, "ingest", options.progress, " articles") as bar:
                ingest_report = ingest(suite.corpus(), runtime.store, runtime.embedder, settings, bar.update)
            if ingest_report.failed:
                print(f"warning: {len(ingest_report.failed)} corpus items failed to ingest", file=sys.stderr)
            gold_index = GoldIndex.build(runtime.store)
            qa = (qa_factory or default_qa_factory)(runtime)
            baseline = None
            if options.baseline:
                from evals.baseline import LangChainDenseBaseline

                baseline = LangChainDenseBaseline.build(runtime, Path(tmp) / "langchain")
            records = _ask_all(
                suite, qa, runtime, gold_index, options, baseline, judge_model if options.judge else None
            )
            if baseline is not None:
                baseline.close()
            close = getattr(qa, "close", None)
            if callable(close):
                close()
        finally:
            runtime.close()
    overall = aggregate(records)
    types = list(dict.fromkeys(r["item"]["question_type"] for r in records))
    safe_settings = settings.model_dump(mode="json", exclude={"openai_api_key", "api_keys", "admin_keys"})
    return {
        "suite": {
            "name": suite.name,
            "description": suite.header.description,
            "origin": suite.origin,
            "corpus": [str(p) for p in suite.corpus_paths] or list(suite.header.corpus),
            "items": len(suite.items),
        },
        "run": {
            **git_commit(),
            "started_at": started.isoformat(),
            "seconds": round(time.perf_counter() - t_run, 2),
            "retrieval_only": options.retrieval_only,
            "limit": options.limit,
            "overrides": options.overrides,
            "baseline": "langchain-chroma dense (same embedder, chunks, k)" if options.baseline else None,
            "judge": getattr(judge_model, "model_name", type(judge_model).__name__) if options.judge else None,
            "python": sys.version.split()[0],
        },
        "settings": {k: v for k, v in safe_settings.items() if k != "data_dir"},
        "ingest": {
            "added": ingest_report.added,
            "duplicates": ingest_report.duplicates,
            "failed": len(ingest_report.failed),
            "chunks": ingest_report.chunks,
            "seconds": ingest_report.seconds,
        },
        "metrics": overall,
        "by_type": {t: aggregate([r for r in records if r["item"]["question_type"] == t]) for t in types},
        "questions": records,
    }


def _item_record(item: SuiteItem) -> dict[str, Any]:
    return {
        "question_type": item.question_type,
        "answer_type": item.answer_type,
        "expected": list(item.answer),
        "must_include": [list(g) for g in item.must_include],
        "fake_answer": list(item.fake_answer),
        "filters": item.filters.model_dump(mode="json", exclude={"article_ids"}, exclude_defaults=True),
        "restricted_to": len(item.filters.article_ids),
        "as_of": item.as_of.isoformat() if item.as_of else None,
        "history": len(item.history),
    }


def _ask_all(
    suite: Suite,
    qa: QA,
    runtime: Any,
    gold_index: GoldIndex,
    options: RunOptions,
    baseline: Any,
    judge_model: Any,
) -> list[dict[str, Any]]:
    depth = min(100, max(ARTICLE_DEPTH, ARTICLE_DEPTH * runtime.settings.max_chunks_per_article))
    records: list[dict[str, Any]] = []
    with _progress(len(suite.items), f"eval {suite.name}", options.progress) as bar:
        for item in suite.items:
            query = make_query(item)
            gold, missing = gold_index.resolve(item)
            record: dict[str, Any] = {
                "id": item.id,
                "question": item.question,
                "item": _item_record(item),
                "gold": gold,
                "gold_unresolved": missing,
            }
            t0 = time.perf_counter()
            try:
                hits = qa.retrieve(query, depth)
            except Exception as exc:  # a crash on one question is a finding, not the end of the run
                record["error"] = f"retrieve: {type(exc).__name__}: {exc}"
                hits = []
            record["latency_ms"] = {"retrieve_only": round((time.perf_counter() - t0) * 1000, 2)}
            ranked: list[str] = []
            shown: list[dict[str, Any]] = []
            for hit in hits:
                if hit.article_id not in ranked:
                    ranked.append(hit.article_id)
                    shown.append(
                        {
                            "article_id": hit.article_id,
                            "url": hit.url,
                            "source": hit.source,
                            "published_at": hit.published_at.isoformat() if hit.published_at else None,
                            "score": round(hit.score, 5),
                        }
                    )
            record["retrieved"] = shown[:ARTICLE_DEPTH]
            if gold and not item.should_refuse:
                record["retrieval"] = retrieval_scores(ranked, gold)
            if baseline is not None:
                t1 = time.perf_counter()
                base_ranked = baseline.retrieve(item, ARTICLE_DEPTH)
                record["baseline"] = {
                    "retrieved": base_ranked,
                    "latency_ms": round((time.perf_counter() - t1) * 1000, 2),
                }
                if gold and not item.should_refuse:
                    record["baseline"]["retrieval"] = retrieval_scores(base_ranked, gold)
            if not options.retrieval_only:
                _answer(item, query, qa, runtime, gold, record, judge_model)
            records.append(record)
            bar.update(1)
    return records


def _answer(
    item: SuiteItem,
    query: Query,
    qa: QA,
    runtime: Any,
    gold: list[str],
    record: dict[str, Any],
    judge_model: Any = None,
) -> None:
    t0 = time.perf_counter()
    try:
        answer = qa.ask(query)
    except Exception as exc:
        record["error"] = f"ask: {type(exc).__name__}: {exc}"
        record["answer"] = None
        record["scores"] = failed_scores(item)
        return
    wall = round((time.perf_counter() - t0) * 1000, 2)
    cited = list(dict.fromkeys(c.article_id for c in answer.citations))
    bodies = {aid: a.body for aid, a in runtime.store.catalog.get_many(cited).items()}
    record["answer"] = answer_record(answer)
    record["scores"] = score_answer(item, answer, gold, bodies)
    if judge_model is not None and not item.counterfactual:
        from evals.judge import judge

        record["scores"]["judge"] = judge(judge_model, item, answer.answer)
    timings = answer.timings_ms or {}
    record["latency_ms"].update(
        {
            "retrieve": timings.get("retrieve"),
            "answer": timings.get("answer"),
            "total": timings.get("total", wall),
            "wall": wall,
        }
    )
