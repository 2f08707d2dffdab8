"""Small helpers shared by the ingest tests: paths, subprocess environment, writing inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ingest.loaders import LoadedItem, LoadOptions, load

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
BIN = Path(sys.executable).parent
NEWSRAG = BIN / "newsrag"
SAMPLE_COUNT = 27

PARAGRAPHS = (
    "The city council approved a new budget on Tuesday after a long debate about transport spending. "
    "Officials said the plan would add twelve bus routes and repair more than forty bridges by 2027.\n\n"
    "Opposition members argued that the tax increase needed to pay for it would hurt small businesses. "
    "The mayor said the city had delayed the repairs for too long and could not wait another year."
)


def load_all(path: str | Path, options: LoadOptions | None = None) -> list[LoadedItem]:
    return list(load(path, options))


def only_article(items: Sequence[LoadedItem]):  # type: ignore[no-untyped-def]
    assert len(items) == 1, items
    assert items[0].error is None, items[0].error
    assert items[0].article is not None
    return items[0].article


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str | bytes]) -> Path:
    lines: list[bytes] = []
    for record in records:
        if isinstance(record, bytes):
            lines.append(record)
        elif isinstance(record, str):
            lines.append(record.encode())
        else:
            lines.append(json.dumps(record).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a `newsrag` subprocess: its own data folder, offline, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_")}
    env.update(
        NEWSRAG_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        TOKENIZERS_PARALLELISM="false",
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str], data_dir: Path, *, stdin: bytes | None = None, timeout: float = 180, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSRAG), *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=cli_env(data_dir, **extra),
        cwd=data_dir.parent,
        timeout=timeout,
        check=False,
    )


def cli_json(args: Sequence[str], data_dir: Path, *, expect: int = 0, **kwargs: Any) -> Any:
    result = run_cli([*args, "--json"], data_dir, **kwargs)
    assert result.returncode == expect, (result.returncode, result.stdout, result.stderr)
    return json.loads(result.stdout)
