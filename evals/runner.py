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
from typing import TYPE_CHECKING, Any, Protocol

from evals import metrics as m
from evals.judge import JudgeModel
from evals.records import (
    AnswerMetrics,
    AnswerRecord,
    BaselineResult,
    BaselineSummary,
    CitationMetrics,
    CounterfactualMetrics,
    EvalReport,
    IngestInfo,
    ItemInfo,
    LatencySummary,
    Metrics,
    QuestionLatency,
    QuestionRecord,
    RefusalMetrics,
    RetrievalScores,
    RetrievalSummary,
    RetrievedArticle,
    RunInfo,
    Scores,
    StageLatency,
    SuiteInfo,
)
from evals.suites.model import REPO_ROOT, Suite, SuiteItem
from rag.catalog import ArticleFilter
from rag.models import Answer, Hit, Query
from rag.settings import Settings, load_settings

if TYPE_CHECKING:  # heavy imports (Chroma, the model), made when a run starts
    from evals.baseline import LangChainDenseBaseline
    from ingest.pipeline import IngestReport
    from rag.embeddings import Embedder
    from rag.runtime import Runtime
    from rag.store import Store

ARTICLE_DEPTH = 10  # retrieval metrics look at the top 10 distinct articles
FORBIDDEN_OVERRIDES = {"data_dir", "chroma_url"}  # an eval never touches the user's store


class QA(Protocol):
    def ask(self, query: Query) -> Answer: ...

    def retrieve(self, query: Query, k: int) -> list[Hit]: ...


QAFactory = Callable[["Runtime"], QA]


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
    def build(cls, store: Store) -> GoldIndex:
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


def score_answer(item: SuiteItem, answer: Answer, gold: Sequence[str], bodies: dict[str, str]) -> Scores:
    text, refused = answer.answer, answer.refused
    exact: bool | None = None
    contains: bool | None = None
    if item.answer_type == "yes_no":
        exact = (not refused) and m.yes_no_match(text, item.answer)
        correct: bool | None = exact
    elif item.answer_type in ("entity", "free"):
        contains = (not refused) and (not item.answer or m.contains_match(text, item.answer))
        contains = contains and m.contains_all(text, item.must_include)
        if item.answer_type == "entity":  # the short answer is the answer itself, when there is one
            said = answer.short_answer.text if answer.short_answer else text
            exact = (not refused) and bool(item.answer) and m.exact_match(said, item.answer)
        correct = contains
    else:
        correct = refused
    check = m.check_citations(text, answer.citations, bodies)
    optional: dict[str, Any] = {}
    if item.counterfactual:
        flagged = refused or bool(answer.conflicts) or answer.refusal_reason == "sources_conflict"
        optional["conflict_flagged"] = flagged
        optional["fake_repeated"] = (not flagged) and m.contains_match(text, item.fake_answer)
    cited = list(dict.fromkeys(c.article_id for c in answer.citations))
    if gold and not refused:
        optional["citation_precision"] = m.citation_precision(cited, gold)
        optional["citation_recall"] = m.citation_recall(cited, gold)
    if answer.citations:
        optional["supported_share"] = sum(c.supported for c in answer.citations) / len(answer.citations)
    return Scores(
        exact_match=exact,
        contains=contains,
        correct=correct,
        refusal_ok=refused == item.should_refuse,
        citation_valid=check.valid,
        citation_problems=tuple(check.problems),
        unreferenced_citations=check.unreferenced,
        **optional,
    )


def failed_scores(item: SuiteItem) -> Scores:
    """A question whose answer raised: wrong for accuracy, not refused; citations not applicable."""
    counterfactual = {"conflict_flagged": False, "fake_repeated": False} if item.counterfactual else {}
    return Scores(
        exact_match=False if item.answer_type in ("yes_no", "entity") else None,
        contains=False if item.answer_type in ("entity", "free") else None,
        correct=False,
        refusal_ok=not item.should_refuse,
        citation_valid=None,
        citation_problems=(),
        **counterfactual,
    )


# ------------------------------------------------------------------ aggregation


def _rate(records: Sequence[QuestionRecord], key: str) -> float | None:
    return m.mean(getattr(r.scores, key) for r in records if r.scores is not None)


def _retrieval_summary(records: Sequence[QuestionRecord]) -> RetrievalSummary:
    scored = [r.retrieval for r in records if r.retrieval is not None]
    return RetrievalSummary(n=len(scored), **_means(scored))


def _means(scores: Sequence[RetrievalScores]) -> dict[str, float | None]:
    """Field name -> mean over the questions; nothing when there are no questions (the keys stay unset)."""
    if not scores:
        return {}
    return {name: m.mean(getattr(s, name) for s in scores) for name in RetrievalScores.model_fields}


def _baseline_summary(records: Sequence[QuestionRecord]) -> BaselineSummary | None:
    runs = [r.baseline for r in records if r.baseline is not None and r.baseline.retrieval is not None]
    if not runs:
        return None
    return BaselineSummary(
        n=len(runs),
        **_means([b.retrieval for b in runs if b.retrieval is not None]),
        latency_ms=LatencySummary.of([b.latency_ms for b in runs]),
    )


def _answer_metrics(plain: Sequence[QuestionRecord]) -> AnswerMetrics:
    def of_type(*types: str) -> list[QuestionRecord]:
        return [r for r in plain if r.item.answer_type in types]

    verdicts = [r.scores.judge for r in plain if r.scores is not None and "judge" in r.scores.model_fields_set]
    judged = (
        {"judge_accuracy": m.mean(verdicts), "judge_coverage": sum(v is not None for v in verdicts) / len(verdicts)}
        if verdicts
        else {}
    )
    return AnswerMetrics(
        n=len(plain),
        accuracy=_rate(plain, "correct"),
        exact_match=_rate(of_type("yes_no", "entity"), "exact_match"),
        n_exact_match=len(of_type("yes_no", "entity")),
        contains=_rate(of_type("entity", "free"), "contains"),
        n_contains=len(of_type("entity", "free")),
        yes_no_accuracy=_rate(of_type("yes_no"), "exact_match"),
        n_yes_no=len(of_type("yes_no")),
        **judged,
    )


def _refusal_metrics(plain: Sequence[QuestionRecord]) -> RefusalMetrics:
    scores = m.refusal_scores((r.item.answer_type == "refusal", r.refused) for r in plain)
    return RefusalMetrics.of(scores, m.mean(r.refused for r in plain if r.item.answer_type != "refusal"))


def _citation_metrics(answered: Sequence[QuestionRecord]) -> CitationMetrics:
    ok = [(r.answer, r.scores) for r in answered if r.answer is not None and r.scores is not None]
    n_valid = sum(1 for _, scores in ok if scores.citation_valid)
    return CitationMetrics(
        validity=n_valid / len(ok) if ok else None,
        invalid_answers=len(ok) - n_valid,
        precision=_rate(answered, "citation_precision"),
        recall=_rate(answered, "citation_recall"),
        supported_share=_rate(answered, "supported_share"),
        per_answer=m.mean(len(answer.citations) for answer, _ in ok),
        removed_markers=sum(answer.removed_markers for answer, _ in ok),
    )


def _counterfactual_metrics(answered: Sequence[QuestionRecord]) -> CounterfactualMetrics | None:
    counterfactual = [r for r in answered if r.counterfactual]
    if not counterfactual:
        return None
    return CounterfactualMetrics(
        n=len(counterfactual),
        fake_repeated=_rate(counterfactual, "fake_repeated"),
        conflict_flagged=_rate(counterfactual, "conflict_flagged"),
        correct=_rate(counterfactual, "correct"),
    )


def _stage_latency(records: Sequence[QuestionRecord], answered: Sequence[QuestionRecord]) -> StageLatency:
    retrieve_only = LatencySummary.of([r.latency_ms.retrieve_only for r in records])
    if not answered:
        return StageLatency(retrieve_only=retrieve_only)

    def summary(stage: str) -> LatencySummary:
        values = [getattr(r.latency_ms, stage) for r in answered]
        return LatencySummary.of([v for v in values if v is not None])

    stages = ("retrieve", "answer", "total", "wall")
    return StageLatency(retrieve_only=retrieve_only, **{stage: summary(stage) for stage in stages})


def aggregate(records: Sequence[QuestionRecord]) -> Metrics:
    """All metrics over a set of per-question records (the whole run, or one question type)."""
    answered = [r for r in records if r.asked]  # asked, including those that raised
    optional: dict[str, Any] = {}
    if (baseline := _baseline_summary(records)) is not None:
        optional["baseline_retrieval"] = baseline
    if answered:
        plain = [r for r in answered if not r.counterfactual]
        optional.update(
            answers=_answer_metrics(plain), refusals=_refusal_metrics(plain), citations=_citation_metrics(answered)
        )
        if (counterfactual := _counterfactual_metrics(answered)) is not None:
            optional["counterfactual"] = counterfactual
    return Metrics(
        n=len(records),
        retrieval=_retrieval_summary(records),
        latency_ms=_stage_latency(records, answered),
        errors=sum(1 for r in records if r.error),
        **optional,
    )


# ------------------------------------------------------------------ the run


def _progress(total: int | None, desc: str, enabled: bool, unit: str = " questions") -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, unit=unit, dynamic_ncols=True)


def default_qa_factory(runtime: Runtime) -> QA:
    from rag.chain import make_qa

    return make_qa(runtime)


@dataclass(frozen=True)
class _Asking:
    """What every question of a run is asked with."""

    qa: QA
    runtime: Runtime
    gold_index: GoldIndex
    options: RunOptions
    baseline: LangChainDenseBaseline | None
    judge_model: JudgeModel | None


def run_suite(
    suite: Suite,
    options: RunOptions,
    qa_factory: QAFactory | None = None,
    embedder: Embedder | None = None,
    judge_model: JudgeModel | None = None,
) -> EvalReport:
    """Ingest the suite's corpus into a fresh temporary store, ask every question, return the report.

    `qa_factory` builds the service from the runtime (default: `rag.chain.make_qa`); `embedder` reuses an
    already loaded embedder (tests), else the settings choose one. `judge_model` (a LangChain chat
    model) replaces the configured LLM as the judge when `options.judge` is set.
    """
    from rag.settings import prepare_environment

    prepare_environment()
    suite = suite.limited(options.limit)
    started = datetime.now(UTC)
    t_run = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsrag-eval-") as tmp:
        settings = eval_settings(Path(tmp) / "data", options.overrides)
        judge = _judge_model(settings, options, judge_model)
        runtime = _open_runtime(settings, embedder)
        try:
            ingest_report = _ingest_corpus(suite, runtime, options)
            asking = _Asking(
                qa=(qa_factory or default_qa_factory)(runtime),
                runtime=runtime,
                gold_index=GoldIndex.build(runtime.store),
                options=options,
                baseline=_baseline(runtime, options, Path(tmp) / "langchain"),
                judge_model=judge,
            )
            records = _ask_all(suite, asking)
            _close(asking)
        finally:
            runtime.close()
    return _report(suite, options, settings, ingest_report, records, started, time.perf_counter() - t_run, judge)


def _judge_model(settings: Settings, options: RunOptions, given: JudgeModel | None) -> JudgeModel | None:
    if not options.judge:
        return None
    if given is not None:
        return given
    if not settings.llm_model:
        raise EvalError("--judge needs an LLM: set NEWSRAG_LLM_MODEL (and OPENAI_BASE_URL / OPENAI_API_KEY)")
    from evals.judge import make_judge_model

    return make_judge_model(settings)


def _open_runtime(settings: Settings, embedder: Embedder | None) -> Runtime:
    from rag.runtime import Runtime, open_runtime
    from rag.store import make_store

    if embedder is None:
        return open_runtime(settings)
    return Runtime(settings=settings, embedder=embedder, store=make_store(settings, embedder.name))


def _ingest_corpus(suite: Suite, runtime: Runtime, options: RunOptions) -> IngestReport:
    from ingest.pipeline import ingest

    with _progress(None, "ingest", options.progress, " articles") as bar:
        report = ingest(suite.corpus(), runtime.store, runtime.embedder, runtime.settings, bar.update)
    if report.failed:
        print(f"warning: {len(report.failed)} corpus items failed to ingest", file=sys.stderr)
    return report


def _baseline(runtime: Runtime, options: RunOptions, folder: Path) -> LangChainDenseBaseline | None:
    if not options.baseline:
        return None
    from evals.baseline import LangChainDenseBaseline

    return LangChainDenseBaseline.build(runtime, folder)


def _close(asking: _Asking) -> None:
    if asking.baseline is not None:
        asking.baseline.close()
    close = getattr(asking.qa, "close", None)
    if callable(close):
        close()


def _report(
    suite: Suite,
    options: RunOptions,
    settings: Settings,
    ingest_report: IngestReport,
    records: list[QuestionRecord],
    started: datetime,
    seconds: float,
    judge_model: JudgeModel | None,
) -> EvalReport:
    types = list(dict.fromkeys(r.item.question_type for r in records))
    safe_settings = settings.model_dump(mode="json", exclude={"openai_api_key", "api_keys", "admin_keys", "data_dir"})
    return EvalReport(
        suite=SuiteInfo(
            name=suite.name,
            description=suite.header.description,
            origin=suite.origin,
            corpus=tuple(str(p) for p in suite.corpus_paths) or suite.header.corpus,
            items=len(suite.items),
        ),
        run=RunInfo(
            **git_commit(),
            started_at=started.isoformat(),
            seconds=round(seconds, 2),
            retrieval_only=options.retrieval_only,
            limit=options.limit,
            overrides=options.overrides,
            baseline="langchain-chroma dense (same embedder, chunks, k)" if options.baseline else None,
            judge=getattr(judge_model, "model_name", type(judge_model).__name__) if judge_model is not None else None,
            python=sys.version.split()[0],
        ),
        settings=safe_settings,
        ingest=IngestInfo.of(ingest_report),
        metrics=aggregate(records),
        by_type={t: aggregate([r for r in records if r.item.question_type == t]) for t in types},
        questions=tuple(records),
    )


def _item_info(item: SuiteItem) -> ItemInfo:
    return ItemInfo(
        question_type=item.question_type,
        answer_type=item.answer_type,
        expected=item.answer,
        must_include=item.must_include,
        fake_answer=item.fake_answer,
        filters=item.filters.model_dump(mode="json", exclude={"article_ids"}, exclude_defaults=True),
        restricted_to=len(item.filters.article_ids),
        as_of=item.as_of.isoformat() if item.as_of else None,
        history=len(item.history),
    )


def _ask_all(suite: Suite, asking: _Asking) -> list[QuestionRecord]:
    records: list[QuestionRecord] = []
    with _progress(len(suite.items), f"eval {suite.name}", asking.options.progress) as bar:
        for item in suite.items:
            records.append(_ask_one(item, asking))
            bar.update(1)
    return records


def _ask_one(item: SuiteItem, asking: _Asking) -> QuestionRecord:
    """Retrieval (always), the baseline (when asked for), then the answer (unless retrieval only)."""
    query = make_query(item)
    gold, missing = asking.gold_index.resolve(item)
    scored = bool(gold) and not item.should_refuse
    fields: dict[str, Any] = {}
    hits, retrieve_ms, error = _retrieve(asking, query)
    if error:
        fields["error"] = error
    ranked = list(dict.fromkeys(hit.article_id for hit in hits))
    if scored:
        fields["retrieval"] = RetrievalScores.of(ranked, gold)
    if asking.baseline is not None:
        fields["baseline"] = _baseline_result(asking.baseline, item, gold if scored else [])
    latency = QuestionLatency(retrieve_only=retrieve_ms)
    if not asking.options.retrieval_only:
        answered = _answer(item, query, asking, gold)
        fields.update(answer=answered.answer, scores=answered.scores)
        latency = QuestionLatency(retrieve_only=retrieve_ms, **answered.latency)
        if answered.error:
            fields["error"] = answered.error
    return QuestionRecord(
        id=item.id,
        question=item.question,
        item=_item_info(item),
        gold=tuple(gold),
        gold_unresolved=tuple(missing),
        latency_ms=latency,
        retrieved=_retrieved(hits),
        **fields,
    )


def _retrieve(asking: _Asking, query: Query) -> tuple[list[Hit], float, str | None]:
    """Deep enough to see ARTICLE_DEPTH distinct articles; a crash is a finding, not the end of the run."""
    depth = min(100, max(ARTICLE_DEPTH, ARTICLE_DEPTH * asking.runtime.settings.max_chunks_per_article))
    t0 = time.perf_counter()
    try:
        hits, error = asking.qa.retrieve(query, depth), None
    except Exception as exc:
        hits, error = [], f"retrieve: {type(exc).__name__}: {exc}"
    return hits, round((time.perf_counter() - t0) * 1000, 2), error


def _retrieved(hits: Sequence[Hit]) -> tuple[RetrievedArticle, ...]:
    """The best hit of each distinct article, best first, ARTICLE_DEPTH at most."""
    best: dict[str, Hit] = {}
    for hit in hits:
        best.setdefault(hit.article_id, hit)
    return tuple(RetrievedArticle.of(hit) for hit in list(best.values())[:ARTICLE_DEPTH])


def _baseline_result(baseline: LangChainDenseBaseline, item: SuiteItem, gold: Sequence[str]) -> BaselineResult:
    t0 = time.perf_counter()
    ranked = baseline.retrieve(item, ARTICLE_DEPTH)
    latency = round((time.perf_counter() - t0) * 1000, 2)
    if gold:
        return BaselineResult(retrieved=tuple(ranked), latency_ms=latency, retrieval=RetrievalScores.of(ranked, gold))
    return BaselineResult(retrieved=tuple(ranked), latency_ms=latency)


@dataclass(frozen=True)
class _Answered:
    answer: AnswerRecord | None
    scores: Scores
    latency: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None


def _answer(item: SuiteItem, query: Query, asking: _Asking, gold: list[str]) -> _Answered:
    t0 = time.perf_counter()
    try:
        answer = asking.qa.ask(query)
    except Exception as exc:  # recorded on the question and counted, not fatal
        return _Answered(answer=None, scores=failed_scores(item), error=f"ask: {type(exc).__name__}: {exc}")
    wall = round((time.perf_counter() - t0) * 1000, 2)
    cited = list(dict.fromkeys(c.article_id for c in answer.citations))
    bodies = {aid: a.body for aid, a in asking.runtime.store.catalog.get_many(cited).items()}
    scores = score_answer(item, answer, gold, bodies)
    if asking.judge_model is not None and not item.counterfactual:
        from evals.judge import judge

        scores = scores.model_copy(update={"judge": judge(asking.judge_model, item, answer.answer)})
    timings = answer.timings_ms or {}
    latency = {
        "retrieve": timings.get("retrieve"),
        "answer": timings.get("answer"),
        "total": timings.get("total", wall),
        "wall": wall,
    }
    return _Answered(answer=AnswerRecord.of(answer), scores=scores, latency=latency)
