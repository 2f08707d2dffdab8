"""Eval suites: the file format, the built-in `samples` suite and adapters for third-party data."""

from __future__ import annotations

from pathlib import Path

from evals.suites.model import (
    SUITES_DIR,
    Filters,
    GoldEvidence,
    Suite,
    SuiteError,
    SuiteHeader,
    SuiteItem,
    load_suite_file,
)

BUILTIN = ("samples", "multihop", "rgb")

__all__ = [
    "BUILTIN",
    "Filters",
    "GoldEvidence",
    "Suite",
    "SuiteError",
    "SuiteHeader",
    "SuiteItem",
    "load_suite",
    "load_suite_file",
]


def load_suite(name: str, data: str | Path | None = None) -> Suite:
    """`samples`, `multihop` (needs data), `rgb` (needs data), or the path of a suite file.

    For a suite file, `data` (when given) replaces the corpus named in its header.
    """
    if name == "samples":
        return load_suite_file(SUITES_DIR / "samples.jsonl", (data,) if data else ())
    if name in ("multihop", "rgb"):
        if data is None:
            folder = "multihop-rag" if name == "multihop" else "rgb"
            raise SuiteError(f"suite {name!r} needs --data DIR (e.g. ../shared/data/{folder})")
        if name == "multihop":
            from evals.suites.multihop import load_multihop

            return load_multihop(data)
        from evals.suites.rgb import load_rgb

        return load_rgb(data)
    path = Path(name)
    if not path.exists():
        raise SuiteError(f"no suite {name!r}: use {', '.join(BUILTIN)} or the path of a suite file")
    return load_suite_file(path, (data,) if data else ())
