"""Eval reports: report.json (everything), report.md (tables), PNG charts, and run comparisons."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evals.metrics import percentile

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


def render_markdown(report: dict[str, Any]) -> str:
    suite, run, metrics = report["suite"], report["run"], report["metrics"]
    lines = [f"# Eval: {suite['name']}", ""]
    lines.append(
        f"{suite['items']} questions; commit `{(run.get('commit') or 'unknown')[:12]}`"
        f"{' (uncommitted changes)' if run.get('dirty') else ''}; started {run['started_at']}; "
        f"{run['seconds']} s; retrieval_mode `{report['settings'].get('retrieval_mode')}`, "
        f"answerer `{report['settings'].get('answerer')}`, top_k {report['settings'].get('top_k')}"
        f"{'; retrieval only' if run.get('retrieval_only') else ''}."
    )
    if run.get("overrides"):
        lines.append("Overrides: " + ", ".join(f"`{k}={v}`" for k, v in run["overrides"].items()) + ".")
    ing = report["ingest"]
    lines += [
        "",
        f"Corpus: {ing['added']} articles ({ing['duplicates']} duplicates, {ing['failed']} failed), "
        f"{ing['chunks']} chunks, ingested in {ing['seconds']} s.",
        "",
    ]

    flat_all = flatten(metrics)
    by_type = {t: flatten(v) for t, v in report["by_type"].items()}
    cols = _present([flat_all, *by_type.values()])
    lines += ["## Metrics by question type", ""]
    header = ["type", "n", *[label for _, label in cols]]
    rows = [[t, str(report["by_type"][t]["n"]), *[fmt(f.get(k)) for k, _ in cols]] for t, f in by_type.items()]
    rows.append(["**all**", str(metrics["n"]), *[f"**{fmt(flat_all.get(k))}**" for k, _ in cols]])
    lines += _table(header, rows)

    if "baseline_retrieval" in metrics:
        lines += ["", "## Retrieval vs the LangChain dense baseline", ""]
        keys = [k for k in metrics["retrieval"] if k != "n"]
        rows = [
            [
                "newsrag",
                str(metrics["retrieval"]["n"]),
                *[fmt(metrics["retrieval"].get(k)) for k in keys],
                fmt(metrics["latency_ms"]["retrieve_only"].get("p50"), 1),
            ],
            [
                "langchain dense",
                str(metrics["baseline_retrieval"]["n"]),
                *[fmt(metrics["baseline_retrieval"].get(k)) for k in keys],
                fmt(metrics["baseline_retrieval"]["latency_ms"].get("p50"), 1),
            ],
        ]
        lines += _table(["retriever", "n", *keys, "p50 ms"], rows)
        per_type = [(t, v) for t, v in report["by_type"].items() if "baseline_retrieval" in v]
        if len(per_type) > 1:
            lines += ["", "Recall@10 by type (newsrag / baseline):", ""]
            lines += _table(
                ["type", "n", "newsrag", "baseline"],
                [
                    [
                        t,
                        str(v["retrieval"]["n"]),
                        fmt(v["retrieval"].get("recall@10")),
                        fmt(v["baseline_retrieval"].get("recall@10")),
                    ]
                    for t, v in per_type
                ],
            )

    if "answers" in metrics:
        a, r, c = metrics["answers"], metrics["refusals"], metrics["citations"]
        lines += ["", "## Answers, refusals, citations", ""]
        lines += _table(
            ["metric", "value"],
            [
                [
                    "answer accuracy (yes/no EM, entity/free contains, refusal = refused)",
                    f"{fmt(a['accuracy'])} (n={a['n']})",
                ],
                ["exact match (yes/no, entity)", f"{fmt(a['exact_match'])} (n={a['n_exact_match']})"],
                ["contains match (entity, free)", f"{fmt(a['contains'])} (n={a['n_contains']})"],
                ["yes/no accuracy", f"{fmt(a['yes_no_accuracy'])} (n={a['n_yes_no']})"],
                *(
                    [
                        [
                            "LLM judge accuracy (coverage)",
                            f"{fmt(a['judge_accuracy'])} ({fmt(a['judge_coverage'])})",
                        ]
                    ]
                    if "judge_accuracy" in a
                    else []
                ),
                [
                    "refusal precision / recall / F1",
                    f"{fmt(r['precision'])} / {fmt(r['recall'])} / {fmt(r['f1'])} "
                    f"(tp {r['tp']}, fp {r['fp']}, fn {r['fn']}, tn {r['tn']})",
                ],
                ["false refusal rate (answerable questions refused)", fmt(r["false_refusal_rate"])],
                [
                    "citation validity (must be 1.000)",
                    f"{fmt(c['validity'])} ({c['invalid_answers']} invalid answers)",
                ],
                ["citation precision / recall vs gold", f"{fmt(c['precision'])} / {fmt(c['recall'])}"],
                ["citations marked supported", fmt(c["supported_share"])],
                ["citations per answer", fmt(c["per_answer"], 2)],
                ["markers removed by verification", str(c["removed_markers"])],
                ["errors (exceptions)", str(metrics["errors"])],
            ],
        )
        if "counterfactual" in metrics:
            cf = metrics["counterfactual"]
            lines += [
                "",
                "Counterfactual / conflicting passages (n={}): fake answer repeated {}, conflict flagged "
                "(refusal or reported conflict) {}, true answer given {}.".format(
                    cf["n"], fmt(cf["fake_repeated"]), fmt(cf["conflict_flagged"]), fmt(cf["correct"])
                ),
            ]
            rows = []
            for t, v in report["by_type"].items():
                if "counterfactual" in v:
                    cv = v["counterfactual"]
                    rows.append(
                        [
                            t,
                            str(cv["n"]),
                            fmt(cv["fake_repeated"]),
                            fmt(cv["conflict_flagged"]),
                            fmt(cv["correct"]),
                        ]
                    )
            lines += ["", *_table(["type", "n", "fake repeated", "flagged", "true answer"], rows)]

    lines += ["", "## Latency (ms)", ""]
    rows = []
    for stage, summary in metrics["latency_ms"].items():
        if summary.get("n"):
            rows.append(
                [
                    stage,
                    str(summary["n"]),
                    fmt(summary["p50"], 1),
                    fmt(summary["p95"], 1),
                    fmt(summary["max"], 1),
                ]
            )
    lines += _table(["stage", "n", "p50", "p95", "max"], rows)
    lines += [
        "",
        "`retrieve_only`: the separate `qa.retrieve` call made for retrieval metrics; `retrieve`, `answer`, "
        "`total`: the answer's own timings; `wall`: `qa.ask` measured by the runner.",
        "",
    ]

    failures = [q for q in report["questions"] if _failed(q)]
    if failures:
        lines += [f"## Questions that failed ({len(failures)})", ""]
        rows = []
        for q in failures[:200]:
            ans = q.get("answer") or {}
            text = q.get("error") or (
                "REFUSED: " + str(ans.get("refusal_reason")) if ans.get("refused") else ans.get("text", "")
            )
            rows.append(
                [
                    q["id"],
                    q["item"]["question_type"],
                    q["question"][:120],
                    "; ".join(q["item"]["expected"])[:60] or "(refusal)",
                    text[:160],
                    ", ".join(_why(q)),
                ]
            )
        lines += _table(["id", "type", "question", "expected", "got", "why"], rows)
    lines += ["", "Charts: `metrics_by_type.png`, `latency.png`. Per-question detail: `report.json`.", ""]
    return "\n".join(lines)


def _why(q: dict[str, Any]) -> list[str]:
    out = []
    if q.get("error"):
        out.append("error")
    s = q.get("scores") or {}
    if s.get("correct") is False:
        out.append("wrong answer" if q["item"]["answer_type"] != "refusal" else "not refused")
    if (q.get("answer") or {}).get("refused") and q["item"]["answer_type"] != "refusal":
        out.append("refused")
    if s.get("citation_valid") is False:
        out.append("invalid citations")
    if s.get("fake_repeated"):
        out.append("repeated fake")
    r = q.get("retrieval") or {}
    if r and r.get("hits@10") == 0:
        out.append("no gold in top 10")
    return out


def _failed(q: dict[str, Any]) -> bool:
    return bool(_why(q))


# ------------------------------------------------------------------ charts


def write_charts(report: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    types = list(report["by_type"])
    flat = {t: flatten(v) for t, v in report["by_type"].items()}
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
    ax.set_title(f"{report['suite']['name']}: metrics by question type")
    fig.tight_layout()
    path = out / "metrics_by_type.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    stages = [
        (
            stage,
            [q["latency_ms"][stage] for q in report["questions"] if q.get("latency_ms", {}).get(stage) is not None],
        )
        for stage in ("retrieve_only", "retrieve", "answer", "total")
    ]
    stages = [(stage, values) for stage, values in stages if values] or [("retrieve_only", [])]
    fig, axes = plt.subplots(1, len(stages), figsize=(3.2 * len(stages) + 1, 3.6), squeeze=False)
    for ax, (stage, values) in zip(axes[0], stages, strict=True):
        if values:
            ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="tab:blue", alpha=0.8)
            p50 = percentile(values, 50)
            p95 = percentile(values, 95)
            ax.axvline(p50, color="tab:green", linestyle="--", label=f"p50 {p50:.0f}")
            ax.axvline(p95, color="tab:red", linestyle="--", label=f"p95 {p95:.0f}")
            ax.legend(fontsize=8)
        ax.set_title(f"{stage} (n={len(values)})", fontsize=10)
        ax.set_xlabel("ms")
    axes[0][0].set_ylabel("questions")
    fig.suptitle(f"{report['suite']['name']}: latency per stage")
    fig.tight_layout()
    path = out / "latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def write_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    for chart in write_charts(report, out):
        paths[chart.stem] = chart
    return paths


# ------------------------------------------------------------------ comparisons


def load_report(path: str | Path) -> dict[str, Any]:
    target = Path(path)
    if target.is_dir():
        target = target / "report.json"
    try:
        data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {target}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{target} is not a report.json: {exc.msg}") from exc
    if "metrics" not in data or "questions" not in data:
        raise ValueError(f"{target} is not an eval report.json")
    return data


def lower_is_better(key: str) -> bool:
    return any(part in key for part in LOWER_IS_BETTER)


def _question_signals(q: dict[str, Any]) -> Iterator[tuple[str, float]]:
    for key in ("recall@10", "mrr@10"):
        if q.get("retrieval") and key in q["retrieval"]:
            yield key, float(q["retrieval"][key])
    s = q.get("scores") or {}
    for key in ("correct", "citation_valid", "citation_recall"):
        if s.get(key) is not None:
            yield key, float(s[key])
    if s.get("fake_repeated") is not None:
        yield "not_fake", 1.0 - float(s["fake_repeated"])
    if q.get("error"):
        yield "no_error", 0.0
    elif q.get("scores") is not None or q.get("retrieval") is not None:
        yield "no_error", 1.0


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per-metric deltas (B - A) and the questions that got worse in B."""
    fa, fb = flatten(a["metrics"]), flatten(b["metrics"])
    deltas = []
    for key in sorted(set(fa) | set(fb), key=lambda k: (k.split(".")[0], k)):
        va, vb = fa.get(key), fb.get(key)
        delta = vb - va if va is not None and vb is not None else None
        better = None
        if delta:
            better = (delta < 0) if lower_is_better(key) else (delta > 0)
        deltas.append({"metric": key, "a": va, "b": vb, "delta": delta, "better": better})
    qa_ = {q["id"]: q for q in a["questions"]}
    worse = []
    improved = 0
    for qb in b["questions"]:
        q_a = qa_.get(qb["id"])
        if q_a is None:
            continue
        sa, sb = dict(_question_signals(q_a)), dict(_question_signals(qb))
        drops = {k: (sa[k], sb[k]) for k in sa.keys() & sb.keys() if sb[k] < sa[k] - 1e-9}
        if any(sb[k] > sa[k] + 1e-9 for k in sa.keys() & sb.keys()):
            improved += 1
        if drops:
            worse.append(
                {
                    "id": qb["id"],
                    "question": qb["question"],
                    "question_type": qb["item"]["question_type"],
                    "drops": {k: {"a": v[0], "b": v[1]} for k, v in sorted(drops.items())},
                    "answer_a": (q_a.get("answer") or {}).get("text"),
                    "answer_b": (qb.get("answer") or {}).get("text"),
                }
            )
    return {
        "a": {
            "suite": a["suite"]["name"],
            "commit": a["run"].get("commit"),
            "started_at": a["run"].get("started_at"),
            "overrides": a["run"].get("overrides"),
        },
        "b": {
            "suite": b["suite"]["name"],
            "commit": b["run"].get("commit"),
            "started_at": b["run"].get("started_at"),
            "overrides": b["run"].get("overrides"),
        },
        "common_questions": len(qa_.keys() & {q["id"] for q in b["questions"]}),
        "deltas": deltas,
        "worse": worse,
        "improved_questions": improved,
    }


def render_compare(result: dict[str, Any]) -> str:
    a, b = result["a"], result["b"]
    lines = [
        f"# Compare: A = {a['suite']} @ {(a['commit'] or '?')[:12]} {a['overrides'] or ''}  vs  "
        f"B = {b['suite']} @ {(b['commit'] or '?')[:12]} {b['overrides'] or ''}",
        "",
        f"{result['common_questions']} questions in common; {len(result['worse'])} got worse, "
        f"{result['improved_questions']} improved on some signal.",
        "",
    ]
    rows = []
    for d in result["deltas"]:
        if d["metric"].endswith(".n") or d["metric"] == "n" or d["metric"].split(".")[-1] in ("tp", "fp", "fn", "tn"):
            continue
        if ".max" in d["metric"] or ".mean" in d["metric"]:
            continue
        mark = "" if d["better"] is None else ("better" if d["better"] else "WORSE")
        sign = "" if d["delta"] is None else f"{d['delta']:+.3f}"
        rows.append([d["metric"], fmt(d["a"]), fmt(d["b"]), sign, mark])
    lines += _table(["metric", "A", "B", "B - A", ""], rows)
    if result["worse"]:
        lines += ["", "## Questions that got worse", ""]
        rows = []
        for w in result["worse"]:
            drops = ", ".join(f"{k} {fmt(v['a'], 2)}→{fmt(v['b'], 2)}" for k, v in w["drops"].items())
            rows.append([w["id"], w["question_type"], w["question"][:100], drops, (w["answer_b"] or "")[:120]])
        lines += _table(["id", "type", "question", "drops", "answer in B"], rows)
    return "\n".join(lines) + "\n"
