"""The typed records of an eval run: what evals/runner.py produces, evals/report.py renders and compares,
and report.json holds (other tools read that file, so its keys are part of the contract).

A field that does not apply to a question or a run is left unset, and unset fields are not written: a
question asked only for retrieval has no `answer` key, one whose answer raised has `"answer": null`.
`to_json`/`from_json` round-trip report.json exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from evals import metrics as m
from rag.models import Answer, Hit, IngestReport


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


Timestamp = Annotated[str | None, BeforeValidator(_iso)]  # report.json writes times as isoformat()


class Record(BaseModel):
    # extra="ignore": reports written by other versions still load for comparisons; from_attributes: a
    # record of a core model (a hit, a citation) reads the fields they share by name.
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", from_attributes=True)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return data


# ------------------------------------------------------------------ one question


class ItemInfo(Record):
    """What the suite says about the question (the gold side)."""

    question_type: str
    answer_type: str
    expected: tuple[str, ...]
    must_include: tuple[tuple[str, ...], ...]
    fake_answer: tuple[str, ...]
    filters: dict[str, Any] = Field(description="The suite's filters as JSON, defaults left out.")
    restricted_to: int
    as_of: str | None
    history: int


class RetrievalScores(Record):
    """Article-level retrieval metrics of one question, or their means over a set (with `n`)."""

    hits_1: float | None = Field(None, alias="hits@1")
    hits_4: float | None = Field(None, alias="hits@4")
    hits_10: float | None = Field(None, alias="hits@10")
    recall_4: float | None = Field(None, alias="recall@4")
    recall_10: float | None = Field(None, alias="recall@10")
    mrr_10: float | None = Field(None, alias="mrr@10")
    ndcg_10: float | None = Field(None, alias="ndcg@10")

    @classmethod
    def of(cls, ranked: Sequence[str], gold: Sequence[str]) -> RetrievalScores:
        return cls(
            hits_1=m.hits_at_k(ranked, gold, 1),
            hits_4=m.hits_at_k(ranked, gold, 4),
            hits_10=m.hits_at_k(ranked, gold, 10),
            recall_4=m.recall_at_k(ranked, gold, 4),
            recall_10=m.recall_at_k(ranked, gold, 10),
            mrr_10=m.mrr_at_k(ranked, gold, 10),
            ndcg_10=m.ndcg_at_k(ranked, gold, 10),
        )

    def values(self) -> dict[str, float | None]:
        """Metric name (as in report.json) -> value."""
        return {str(info.alias): getattr(self, name) for name, info in type(self).model_fields.items()}


class RetrievedArticle(Record):
    article_id: str
    url: str | None
    source: str | None
    published_at: Timestamp
    score: Annotated[float, BeforeValidator(lambda score: round(score, 5))]

    @classmethod
    def of(cls, hit: Hit) -> RetrievedArticle:
        return cls.model_validate(hit)


class BaselineResult(Record):
    """The LangChain dense baseline on one question."""

    retrieved: tuple[str, ...]
    latency_ms: float
    retrieval: RetrievalScores | None = None  # unset when the question has no gold to score


class CitationRecord(Record):
    n: int
    article_id: str
    chunk_id: str
    source: str | None
    url: str | None
    published_at: Timestamp
    quote: str
    start: int
    end: int
    supported: bool


def _article_ids(sources: Any) -> Any:
    return tuple(getattr(s, "article_id", s) for s in sources)


def _short_text(short: Any) -> Any:
    return getattr(short, "text", short)


class AnswerRecord(Record):
    text: str = Field(validation_alias=AliasChoices("text", "answer"))  # `answer` on the core's Answer
    short_answer: Annotated[str | None, BeforeValidator(_short_text)] = None  # the span the answer leads with
    refused: bool
    refusal_reason: str | None
    standalone_question: str | None
    conflicts: tuple[str, ...]
    mode: str
    removed_markers: int
    newest_source_at: Timestamp
    citations: tuple[CitationRecord, ...]
    sources: Annotated[tuple[str, ...], BeforeValidator(_article_ids)] = Field(description="Article ids.")

    @classmethod
    def of(cls, answer: Answer) -> AnswerRecord:
        return cls.model_validate(answer)


class Scores(Record):
    """How one answer scored. Fields that do not apply (no gold, no citations, no counterfactual, no
    judge) stay unset."""

    exact_match: bool | None
    contains: bool | None
    correct: bool | None
    refusal_ok: bool
    conflict_flagged: bool | None = None
    fake_repeated: bool | None = None
    citation_valid: bool | None
    citation_problems: tuple[str, ...]
    unreferenced_citations: tuple[int, ...] = ()
    citation_precision: float | None = None
    citation_recall: float | None = None
    supported_share: float | None = None
    judge: bool | None = None


class QuestionLatency(Record):
    """Milliseconds. `retrieve_only` is the runner's own `qa.retrieve` call; the rest exist once asked."""

    retrieve_only: float
    retrieve: float | None = None
    answer: float | None = None
    total: float | None = None
    wall: float | None = None


class QuestionRecord(Record):
    id: str
    question: str
    item: ItemInfo
    gold: tuple[str, ...]
    gold_unresolved: tuple[str, ...]
    error: str | None = None
    latency_ms: QuestionLatency
    retrieved: tuple[RetrievedArticle, ...]
    retrieval: RetrievalScores | None = None
    baseline: BaselineResult | None = None
    answer: AnswerRecord | None = None  # set to None when asking raised
    scores: Scores | None = None

    @property
    def asked(self) -> bool:
        """An answer was requested (it may have raised)."""
        return "scores" in self.model_fields_set

    @property
    def counterfactual(self) -> bool:
        return bool(self.item.fake_answer)

    @property
    def refused(self) -> bool:
        return self.answer is not None and self.answer.refused


# ------------------------------------------------------------------ aggregates


class LatencySummary(Record):
    """p50/p95/mean/max of some latencies (ms); only `n` when there were none."""

    n: int
    p50: float | None = None
    p95: float | None = None
    mean: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencySummary:
        return cls.model_validate(m.latency_summary(values))


class RetrievalSummary(RetrievalScores):
    n: int


class BaselineSummary(RetrievalSummary):
    latency_ms: LatencySummary


class StageLatency(Record):
    retrieve_only: LatencySummary
    retrieve: LatencySummary | None = None
    answer: LatencySummary | None = None
    total: LatencySummary | None = None
    wall: LatencySummary | None = None


class AnswerMetrics(Record):
    n: int
    accuracy: float | None
    exact_match: float | None
    n_exact_match: int
    contains: float | None
    n_contains: int
    yes_no_accuracy: float | None
    n_yes_no: int
    judge_accuracy: float | None = None
    judge_coverage: float | None = None


class RefusalMetrics(Record):
    precision: float | None
    recall: float | None
    f1: float | None
    tp: int
    fp: int
    fn: int
    tn: int
    false_refusal_rate: float | None

    @classmethod
    def of(cls, scores: m.RefusalScores, false_refusal_rate: float | None) -> RefusalMetrics:
        return cls(**asdict(scores), false_refusal_rate=false_refusal_rate)


class CitationMetrics(Record):
    validity: float | None
    invalid_answers: int
    precision: float | None
    recall: float | None
    supported_share: float | None
    per_answer: float | None
    removed_markers: int


class CounterfactualMetrics(Record):
    n: int
    fake_repeated: float | None
    conflict_flagged: float | None
    correct: float | None


class Metrics(Record):
    """All metrics over a set of questions (the whole run, or one question type)."""

    n: int
    retrieval: RetrievalSummary
    baseline_retrieval: BaselineSummary | None = None
    latency_ms: StageLatency
    errors: int
    answers: AnswerMetrics | None = None
    refusals: RefusalMetrics | None = None
    citations: CitationMetrics | None = None
    counterfactual: CounterfactualMetrics | None = None


# ------------------------------------------------------------------ the run


class SuiteInfo(Record):
    name: str
    description: str
    origin: str
    corpus: tuple[str, ...]
    items: int


class RunInfo(Record):
    commit: str | None
    dirty: bool | None
    started_at: str
    seconds: float
    retrieval_only: bool
    limit: int | None
    overrides: dict[str, Any]
    baseline: str | None
    judge: str | None
    python: str


class IngestInfo(Record):
    added: int
    duplicates: int
    failed: Annotated[int, BeforeValidator(lambda failed: len(failed) if isinstance(failed, tuple) else failed)]
    chunks: int
    seconds: float

    @classmethod
    def of(cls, report: IngestReport) -> IngestInfo:
        return cls.model_validate(report)


class EvalReport(Record):
    """Everything one run measured: report.json."""

    suite: SuiteInfo
    run: RunInfo
    settings: dict[str, Any] = Field(description="The run's Settings as JSON, secrets and data_dir left out.")
    ingest: IngestInfo
    metrics: Metrics
    by_type: dict[str, Metrics]
    questions: tuple[QuestionRecord, ...]

    @classmethod
    def from_json(cls, data: Any) -> EvalReport:
        return cls.model_validate(data)


# ------------------------------------------------------------------ comparisons (compare.json)


class RunRef(Record):
    suite: str
    commit: str | None
    started_at: str | None
    overrides: dict[str, Any] | None

    @classmethod
    def of(cls, report: EvalReport) -> RunRef:
        run = report.run
        return cls(suite=report.suite.name, commit=run.commit, started_at=run.started_at, overrides=run.overrides)


class Delta(Record):
    metric: str
    a: float | None
    b: float | None
    delta: float | None
    better: bool | None


class Drop(Record):
    a: float
    b: float


class WorseQuestion(Record):
    id: str
    question: str
    question_type: str
    drops: dict[str, Drop]
    answer_a: str | None
    answer_b: str | None


class Comparison(Record):
    """compare.json: per-metric deltas (B - A) and the questions that got worse in B."""

    a: RunRef
    b: RunRef
    common_questions: int
    deltas: tuple[Delta, ...]
    worse: tuple[WorseQuestion, ...]
    improved_questions: int
