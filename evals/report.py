"""Eval reports: report.json (everything), report.md (tables), PNG charts, and run comparisons."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.metrics import percentile
from evals.records import Comparison, Delta, Drop, EvalReport, QuestionRecord, RunRef, WorseQuestion

# Headline metrics, in table order: (key in the flattened metrics, label).
HEADLINE = (
    ("retrieval.hits@4", "Hits@4"),
    ("retrieval.hits@10", "Hits@10"),
    ("retrieval.recall@10", "Recall@10"),
    ("retrieval.mrr@10", "MRR@10"),
    ("retrieval.ndcg@10", "nDCG@10"),
    ("answers.accuracy", "Accuracy"),
    ("answers.exact_match", "EM"),
    ("answers.contains", "Contains"),
    ("refusals.f1", "Refusal F1"),
    ("citations.validity", "Cit. validity"),
    ("citations.precision", "Cit. precision"),
    ("citations.recall", "Cit. recall"),
)
CHART_METRICS = (
    ("retrieval.recall@10", "Recall@10"),
    ("retrieval.mrr@10", "MRR@10"),
    ("answers.accuracy", "Accuracy"),
    ("answers.contains", "Contains"),
    ("refusals.recall", "Refusal recall"),
    ("citations.validity", "Citation validity"),
    ("citations.recall", "Citation recall"),
    ("counterfactual.conflict_flagged", "Conflict flagged"),
)
LOWER_IS_BETTER = (
    "latency_ms.",
    "errors",
    "refusals.fp",
    "refusals.fn",
    "false_refusal_rate",
    "invalid_answers",
    "removed_markers",
    "fake_repeated",
)


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves as 'group.metric' keys; None and non-numbers are left out."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, bool | int | float):
            out[name] = float(value)
    return out


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return lines


def _present(flat_rows: list[dict[str, float]]) -> list[tuple[str, str]]:
    return [(k, label) for k, label in HEADLINE if any(k in row for row in flat_rows)]


def render_markdown(report: EvalReport) -> str:
    """report.md: one section a concern, in reading order."""
    sections = (
        _header_section,
        _by_type_section,
        _baseline_section,
        _answers_section,
        _counterfactual_section,
        _latency_section,
        _failures_section,
    )
    lines = [line for section in sections for line in section(report)]
    lines += ["", "Charts: `metrics_by_type.png`, `latency.png`. Per-question detail: `report.json`.", ""]
    return "\n".join(lines)


def _header_section(report: EvalReport) -> list[str]:
    suite, run, settings = report.suite, report.run, report.settings
    lines = [f"# Eval: {suite.name}", ""]
    lines.append(
        f"{suite.items} questions; commit `{(run.commit or 'unknown')[:12]}`"
        f"{' (uncommitted changes)' if run.dirty else ''}; started {run.started_at}; "
        f"{run.seconds} s; retrieval_mode `{settings.get('retrieval_mode')}`, "
        f"answerer `{settings.get('answerer')}`, top_k {settings.get('top_k')}"
        f"{'; retrieval only' if run.retrieval_only else ''}."
    )
    if run.overrides:
        lines.append("Overrides: " + ", ".join(f"`{k}={v}`" for k, v in run.overrides.items()) + ".")
    ing = report.ingest
    return [
        *lines,
        "",
        f"Corpus: {ing.added} articles ({ing.duplicates} duplicates, {ing.failed} failed), "
        f"{ing.chunks} chunks, ingested in {ing.seconds} s.",
        "",
    ]


def _by_type_section(report: EvalReport) -> list[str]:
    flat_all = flatten(report.metrics.to_json())
    by_type = {t: flatten(v.to_json()) for t, v in report.by_type.items()}
    cols = _present([flat_all, *by_type.values()])
    header = ["type", "n", *[label for _, label in cols]]
    rows = [[t, str(report.by_type[t].n), *[fmt(f.get(k)) for k, _ in cols]] for t, f in by_type.items()]
    rows.append(["**all**", str(report.metrics.n), *[f"**{fmt(flat_all.get(k))}**" for k, _ in cols]])
    return ["## Metrics by question type", "", *_table(header, rows)]


def _baseline_section(report: EvalReport) -> list[str]:
    metrics = report.metrics
    base = metrics.baseline_retrieval
    if base is None:
        return []
    ours = metrics.retrieval.values()
    keys = [k for k in ours if k in metrics.retrieval.to_json()]
    theirs = base.values()
    p50 = metrics.latency_ms.retrieve_only.p50
    rows = [
        ["newsrag", str(metrics.retrieval.n), *[fmt(ours[k]) for k in keys], fmt(p50, 1)],
        ["langchain dense", str(base.n), *[fmt(theirs[k]) for k in keys], fmt(base.latency_ms.p50, 1)],
    ]
    lines = ["", "## Retrieval vs the LangChain dense baseline", "", *_table(["retriever", "n", *keys, "p50 ms"], rows)]
    per_type = [(t, v.retrieval, v.baseline_retrieval) for t, v in report.by_type.items() if v.baseline_retrieval]
    if len(per_type) > 1:
        lines += ["", "Recall@10 by type (newsrag / baseline):", ""]
        lines += _table(
            ["type", "n", "newsrag", "baseline"],
            [[t, str(r.n), fmt(r.recall_10), fmt(b.recall_10 if b else None)] for t, r, b in per_type],
        )
    return lines


def _answers_section(report: EvalReport) -> list[str]:
    metrics = report.metrics
    a, r, c = metrics.answers, metrics.refusals, metrics.citations
    if a is None or r is None or c is None:
        return []
    judge = (
        [["LLM judge accuracy (coverage)", f"{fmt(a.judge_accuracy)} ({fmt(a.judge_coverage)})"]]
        if "judge_accuracy" in a.model_fields_set
        else []
    )
    rows = [
        ["answer accuracy (yes/no EM, entity/free contains, refusal = refused)", f"{fmt(a.accuracy)} (n={a.n})"],
        ["exact match (yes/no, entity)", f"{fmt(a.exact_match)} (n={a.n_exact_match})"],
        ["contains match (entity, free)", f"{fmt(a.contains)} (n={a.n_contains})"],
        ["yes/no accuracy", f"{fmt(a.yes_no_accuracy)} (n={a.n_yes_no})"],
        *judge,
        [
            "refusal precision / recall / F1",
            f"{fmt(r.precision)} / {fmt(r.recall)} / {fmt(r.f1)} (tp {r.tp}, fp {r.fp}, fn {r.fn}, tn {r.tn})",
        ],
        ["false refusal rate (answerable questions refused)", fmt(r.false_refusal_rate)],
        ["citation validity (must be 1.000)", f"{fmt(c.validity)} ({c.invalid_answers} invalid answers)"],
        ["citation precision / recall vs gold", f"{fmt(c.precision)} / {fmt(c.recall)}"],
        ["citations marked supported", fmt(c.supported_share)],
        ["citations per answer", fmt(c.per_answer, 2)],
        ["markers removed by verification", str(c.removed_markers)],
        ["errors (exceptions)", str(metrics.errors)],
    ]
    return ["", "## Answers, refusals, citations", "", *_table(["metric", "value"], rows)]


def _counterfactual_section(report: EvalReport) -> list[str]:
    cf = report.metrics.counterfactual
    if cf is None or report.metrics.answers is None:
        return []
    lines = [
        "",
        f"Counterfactual / conflicting passages (n={cf.n}): fake answer repeated {fmt(cf.fake_repeated)}, "
        f"conflict flagged (refusal or reported conflict) {fmt(cf.conflict_flagged)}, "
        f"true answer given {fmt(cf.correct)}.",
    ]
    rows = [
        [t, str(v.n), fmt(v.fake_repeated), fmt(v.conflict_flagged), fmt(v.correct)]
        for t, metrics in report.by_type.items()
        if (v := metrics.counterfactual) is not None
    ]
    return [*lines, "", *_table(["type", "n", "fake repeated", "flagged", "true answer"], rows)]


def _latency_section(report: EvalReport) -> list[str]:
    stages = report.metrics.latency_ms
    rows = [
        [stage, str(summary.n), fmt(summary.p50, 1), fmt(summary.p95, 1), fmt(summary.max, 1)]
        for stage, summary in ((name, getattr(stages, name)) for name in type(stages).model_fields)
        if summary is not None and summary.n
    ]
    return [
        "",
        "## Latency (ms)",
        "",
        *_table(["stage", "n", "p50", "p95", "max"], rows),
        "",
        "`retrieve_only`: the separate `qa.retrieve` call made for retrieval metrics; `retrieve`, `answer`, "
        "`total`: the answer's own timings; `wall`: `qa.ask` measured by the runner.",
        "",
    ]


def _failures_section(report: EvalReport) -> list[str]:
    failures = [(q, why) for q in report.questions if (why := _why(q))]
    if not failures:
        return []
    rows = []
    for q, why in failures[:200]:
        if q.error:
            got = q.error
        elif q.answer is not None and q.answer.refused:
            got = f"REFUSED: {q.answer.refusal_reason}"
        else:
            got = q.answer.text if q.answer is not None else ""
        expected = "; ".join(q.item.expected)[:60] or "(refusal)"
        rows.append([q.id, q.item.question_type, q.question[:120], expected, got[:160], ", ".join(why)])
    return [
        f"## Questions that failed ({len(failures)})",
        "",
        *_table(["id", "type", "question", "expected", "got", "why"], rows),
    ]


def _why(q: QuestionRecord) -> list[str]:
    out = []
    if q.error:
        out.append("error")
    s = q.scores
    if s is not None and s.correct is False:
        out.append("wrong answer" if q.item.answer_type != "refusal" else "not refused")
    if q.refused and q.item.answer_type != "refusal":
        out.append("refused")
    if s is not None and s.citation_valid is False:
        out.append("invalid citations")
    if s is not None and s.fake_repeated:
        out.append("repeated fake")
    if q.retrieval is not None and q.retrieval.hits_10 == 0:
        out.append("no gold in top 10")
    return out


# ------------------------------------------------------------------ charts


def write_charts(report: EvalReport, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    return [_metrics_chart(report, out / "metrics_by_type.png"), _latency_chart(report, out / "latency.png")]


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _metrics_chart(report: EvalReport, path: Path) -> Path:
    import matplotlib.pyplot as plt

    types = list(report.by_type)
    flat = {t: flatten(v.to_json()) for t, v in report.by_type.items()}
    metrics = [(k, label) for k, label in CHART_METRICS if any(k in f for f in flat.values())]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(types) + 2), 4.5))
    if metrics and types:
        width = 0.8 / len(metrics)
        for i, (key, label) in enumerate(metrics):
            xs = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(types))]
            ys = [flat[t].get(key, math.nan) for t in types]  # NaN: not measured for this type
            ax.bar(xs, ys, width, label=label)
            for x, y in zip(xs, ys, strict=True):
                if y == 0:  # a measured zero, unlike NaN (not measured), would be invisible
                    ax.text(x, 0.01, "0", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels(types, rotation=20, ha="right")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.set_title(f"{report.suite.name}: metrics by question type")
    return _save(fig, path)


def _latency_chart(report: EvalReport, path: Path) -> Path:
    import matplotlib.pyplot as plt

    def values(stage: str) -> list[float]:
        return [v for q in report.questions if (v := getattr(q.latency_ms, stage)) is not None]

    stages = [(stage, values(stage)) for stage in ("retrieve_only", "retrieve", "answer", "total")]
    stages = [(stage, v) for stage, v in stages if v] or [("retrieve_only", [])]
    fig, axes = plt.subplots(1, len(stages), figsize=(3.2 * len(stages) + 1, 3.6), squeeze=False)
    for ax, (stage, v) in zip(axes[0], stages, strict=True):
        if v:
            ax.hist(v, bins=min(30, max(5, len(v) // 3)), color="tab:blue", alpha=0.8)
            p50, p95 = percentile(v, 50), percentile(v, 95)
            ax.axvline(p50, color="tab:green", linestyle="--", label=f"p50 {p50:.0f}")
            ax.axvline(p95, color="tab:red", linestyle="--", label=f"p95 {p95:.0f}")
            ax.legend(fontsize=8)
        ax.set_title(f"{stage} (n={len(v)})", fontsize=10)
        ax.set_xlabel("ms")
    axes[0][0].set_ylabel("questions")
    fig.suptitle(f"{report.suite.name}: latency per stage")
    return _save(fig, path)


def write_report(report: EvalReport, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md"}
    text = json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n"
    paths["json"].write_text(text, encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    for chart in write_charts(report, out):
        paths[chart.stem] = chart
    return paths


# ------------------------------------------------------------------ comparisons


def load_report(path: str | Path) -> EvalReport:
    target = Path(path)
    if target.is_dir():
        target = target / "report.json"
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {target}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{target} is not a report.json: {exc.msg}") from exc
    if not isinstance(data, dict) or "metrics" not in data or "questions" not in data:
        raise ValueError(f"{target} is not an eval report.json")
    try:
        return EvalReport.from_json(data)
    except ValidationError as exc:
        raise ValueError(f"{target} is not an eval report.json this version reads: {exc.errors()[0]['msg']}") from exc


def lower_is_better(key: str) -> bool:
    return any(part in key for part in LOWER_IS_BETTER)


def _question_signals(q: QuestionRecord) -> Iterator[tuple[str, float]]:
    if q.retrieval is not None:
        for key in ("recall@10", "mrr@10"):
            value = q.retrieval.values()[key]
            if value is not None:
                yield key, float(value)
    s = q.scores
    if s is not None:
        for key in ("correct", "citation_valid", "citation_recall"):
            if (value := getattr(s, key)) is not None:
                yield key, float(value)
        if s.fake_repeated is not None:
            yield "not_fake", 1.0 - float(s.fake_repeated)
    if q.error:
        yield "no_error", 0.0
    elif q.scores is not None or q.retrieval is not None:
        yield "no_error", 1.0


def _deltas(a: EvalReport, b: EvalReport) -> list[Delta]:
    fa, fb = flatten(a.metrics.to_json()), flatten(b.metrics.to_json())
    deltas = []
    for key in sorted(set(fa) | set(fb), key=lambda k: (k.split(".")[0], k)):
        va, vb = fa.get(key), fb.get(key)
        delta = vb - va if va is not None and vb is not None else None
        better = ((delta < 0) if lower_is_better(key) else (delta > 0)) if delta else None
        deltas.append(Delta(metric=key, a=va, b=vb, delta=delta, better=better))
    return deltas


def compare(a: EvalReport, b: EvalReport) -> Comparison:
    """Per-metric deltas (B - A) and the questions that got worse in B."""
    by_id = {q.id: q for q in a.questions}
    worse = []
    improved = 0
    for qb in b.questions:
        q_a = by_id.get(qb.id)
        if q_a is None:
            continue
        sa, sb = dict(_question_signals(q_a)), dict(_question_signals(qb))
        common = sa.keys() & sb.keys()
        drops = {k: Drop(a=sa[k], b=sb[k]) for k in sorted(common) if sb[k] < sa[k] - 1e-9}
        if any(sb[k] > sa[k] + 1e-9 for k in common):
            improved += 1
        if drops:
            worse.append(
                WorseQuestion(
                    id=qb.id,
                    question=qb.question,
                    question_type=qb.item.question_type,
                    drops=drops,
                    answer_a=q_a.answer.text if q_a.answer else None,
                    answer_b=qb.answer.text if qb.answer else None,
                )
            )
    return Comparison(
        a=RunRef.of(a),
        b=RunRef.of(b),
        common_questions=len(by_id.keys() & {q.id for q in b.questions}),
        deltas=tuple(_deltas(a, b)),
        worse=tuple(worse),
        improved_questions=improved,
    )


def render_compare(result: Comparison) -> str:
    a, b = result.a, result.b
    lines = [
        f"# Compare: A = {a.suite} @ {(a.commit or '?')[:12]} {a.overrides or ''}  vs  "
        f"B = {b.suite} @ {(b.commit or '?')[:12]} {b.overrides or ''}",
        "",
        f"{result.common_questions} questions in common; {len(result.worse)} got worse, "
        f"{result.improved_questions} improved on some signal.",
        "",
    ]
    rows = []
    for d in result.deltas:
        if d.metric.endswith(".n") or d.metric == "n" or d.metric.split(".")[-1] in ("tp", "fp", "fn", "tn"):
            continue
        if ".max" in d.metric or ".mean" in d.metric:
            continue
        mark = "" if d.better is None else ("better" if d.better else "WORSE")
        sign = "" if d.delta is None else f"{d.delta:+.3f}"
        rows.append([d.metric, fmt(d.a), fmt(d.b), sign, mark])
    lines += _table(["metric", "A", "B", "B - A", ""], rows)
    if result.worse:
        lines += ["", "## Questions that got worse", ""]
        rows = []
        for w in result.worse:
            drops = ", ".join(f"{k} {fmt(v.a, 2)}→{fmt(v.b, 2)}" for k, v in w.drops.items())
            rows.append([w.id, w.question_type, w.question[:100], drops, (w.answer_b or "")[:120]])
        lines += _table(["id", "type", "question", "drops", "answer in B"], rows)
    return "\n".join(lines) + "\n"
