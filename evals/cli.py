"""`newsrag eval SUITE ...` and `newsrag eval compare RUN_A RUN_B`.

    newsrag eval samples
    newsrag eval multihop --data ../shared/data/multihop-rag --set retrieval_mode=dense
    newsrag eval rgb --data ../shared/data/rgb --limit 40
    newsrag eval my-suite.jsonl --retrieval-only
    newsrag eval compare runs/eval/samples-A runs/eval/samples-B

Also `python -m evals.cli ...`. Exit codes: 0 done, 1 a question raised or (with --strict) a citation was
invalid, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_command

if TYPE_CHECKING:
    from evals.records import EvalReport
USAGE = "SUITE | compare RUN_A RUN_B"


def add_eval_parser(subparsers: Any) -> None:
    """Register `eval` on the `newsrag` subcommands (the object `add_subparsers()` returned)."""
    p = subparsers.add_parser(
        "eval",
        help="run an eval suite in a temporary store, or compare two runs",
        description="Run an eval suite (samples, multihop, rgb, or a suite file) against a fresh temporary "
        "store and write report.json, report.md and charts; or `eval compare RUN_A RUN_B`.",
    )
    p.add_argument("target", nargs="+", metavar=USAGE, help="a suite to run, or 'compare' and two run folders")
    p.add_argument("--data", help="data folder for multihop / rgb; for a suite file, replaces its corpus")
    p.add_argument("--out", help="output folder (default: runs/eval/SUITE-TIMESTAMP; for compare: print only)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. retrieval_mode=dense, top_k=8, answerer=extractive (repeatable)",
    )
    p.add_argument("--retrieval-only", action="store_true", help="retrieval metrics only, no answers (fast)")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also run the plain LangChain dense-only baseline (same embedder, chunks, k) in the same run",
    )
    p.add_argument(
        "--judge", action="store_true", help="also grade answers with the configured LLM (NEWSRAG_LLM_MODEL)"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when any citation is invalid")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--json", action="store_true", help="print the overall metrics as JSON")
    p.set_defaults(func=cmd_eval)


def _default_out(suite: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = Path(suite).stem if suite not in ("samples", "multihop", "rgb") else suite
    return Path("runs") / "eval" / f"{name}-{stamp}"


def cmd_eval(args: argparse.Namespace) -> int:
    if args.target[0] == "compare":
        return _cmd_compare(args)
    if len(args.target) != 1:
        print(f"error: usage: newsrag eval {USAGE}", file=sys.stderr)
        return EXIT_USAGE
    return _cmd_run(args)


def _cmd_run(args: argparse.Namespace) -> int:
    from evals.report import write_report
    from evals.runner import EvalError, RunOptions, parse_overrides, run_suite
    from evals.suites import SuiteError, load_suite

    name = args.target[0]
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        overrides = parse_overrides(args.overrides)
        suite = load_suite(name, args.data)
    except (SuiteError, EvalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = RunOptions(
        limit=args.limit,
        retrieval_only=args.retrieval_only,
        overrides=overrides,
        baseline=args.baseline,
        judge=args.judge,
        progress=not args.no_progress,
    )
    try:
        report = run_suite(suite, options)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    out = Path(args.out) if args.out else _default_out(name)
    paths = write_report(report, out)
    metrics = report.metrics
    if args.json:
        print(json.dumps({"out": str(out), "metrics": metrics.to_json()}, indent=2, default=str))
    else:
        _print_summary(report, out, paths["md"])
    failed = False
    if metrics.errors:
        print(f"error: {metrics.errors} questions raised an exception (see report.json)", file=sys.stderr)
        failed = True
    validity = metrics.citations.validity if metrics.citations else None
    if validity is not None and validity < 1.0:
        print(f"BUG: citation validity {validity:.3f} < 1.0 (see report.md)", file=sys.stderr)
        failed = failed or args.strict
    return EXIT_FAILED if failed else EXIT_OK


def _print_summary(report: EvalReport, out: Path, markdown: Path) -> None:
    from evals.report import fmt

    metrics = report.metrics
    r = metrics.retrieval
    print(f"{report.suite.name}: {metrics.n} questions in {report.run.seconds} s -> {out}")
    if r.n:
        print(
            f"  retrieval (n={r.n}): Hits@4 {fmt(r.hits_4)}  Recall@10 {fmt(r.recall_10)}  "
            f"MRR@10 {fmt(r.mrr_10)}  nDCG@10 {fmt(r.ndcg_10)}"
        )
    if (b := metrics.baseline_retrieval) is not None:
        print(
            f"  langchain dense baseline: Hits@4 {fmt(b.hits_4)}  Recall@10 {fmt(b.recall_10)}  MRR@10 {fmt(b.mrr_10)}"
        )
    a, rf, c, lat = metrics.answers, metrics.refusals, metrics.citations, metrics.latency_ms.total
    if a is not None and rf is not None and c is not None and lat is not None:
        print(
            f"  answers: accuracy {fmt(a.accuracy)}  EM {fmt(a.exact_match)}  "
            f"contains {fmt(a.contains)}"
            f"  refusal F1 {fmt(rf.f1)}  citation validity {fmt(c.validity)}  "
            f"latency p50 {fmt(lat.p50, 1)} ms p95 {fmt(lat.p95, 1)} ms"
        )
    print(f"  report: {markdown}")


def _cmd_compare(args: argparse.Namespace) -> int:
    from evals.report import compare, load_report, render_compare

    if len(args.target) != 3:
        print("error: usage: newsrag eval compare RUN_A RUN_B", file=sys.stderr)
        return EXIT_USAGE
    try:
        a, b = load_report(args.target[1]), load_report(args.target[2])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = compare(a, b)
    text = render_compare(result)
    as_json = json.dumps(result.to_json(), indent=2, default=str)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.json").write_text(as_json + "\n", encoding="utf-8")
        (out / "compare.md").write_text(text, encoding="utf-8")
    if args.json:
        print(as_json)
    else:
        print(text, end="")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals.cli", description="newsrag eval suites")
    sub = parser.add_subparsers(dest="command", required=True)
    add_eval_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry: `python -m evals.cli eval samples` (or without the leading `eval`)."""
    from rag.settings import prepare_environment

    prepare_environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("eval", "-h", "--help"):
        argv = ["eval", *argv]
    args = build_parser().parse_args(argv)
    return run_command(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
