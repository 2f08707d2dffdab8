"""Export the bundled MiniLM to an ONNX graph, once, from the package's own weights.

    python -m rag.onnx_export            # what `make install` runs; prints where the graph went

The only module that imports torch and transformers for the default embedder: serving and the CLI load the
exported graph with onnxruntime. The graph maps (input_ids, attention_mask, token_type_ids) to the last
hidden state; pooling and normalisation happen in numpy (rag/embeddings.py), as sentence-transformers does
them, so the same graph also gives sentence vectors pooled from a chunk's own tokens.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from rag.errors import ConfigError

EXPORT_VERSION = "1"  # bump when the exported graph's inputs, outputs or opset change
OPSET = 17


def graph_path(model_dir: Path, cache_dir: Path) -> Path:
    """Where the graph of this model folder lives: keyed by its weights, so a new model gets a new graph."""
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    key = hashlib.sha256(
        f"{EXPORT_VERSION}|{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
        + (model_dir / "config.json").read_bytes()
    ).hexdigest()[:16]
    return cache_dir / f"{model_dir.parent.name or 'model'}-{key}.onnx"


def export(model_dir: Path, target: Path) -> Path:
    """Write the graph to `target` atomically (a half-written file is never seen by another process)."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it; say so before torch takes seconds to load)
    except ImportError as exc:
        raise ConfigError(
            "exporting the bundled model to ONNX needs the 'onnx' package: run `make install`, or "
            "`pip install 'newsrag[onnx]'`"
        ) from exc
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir))
    model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on advanced indexing (ids are never negative)
            torch.onnx.export(
                LastHiddenState(model),
                (ids, ids, torch.zeros_like(ids)),
                tmp,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def ensure_graph(model_dir: Path, cache_dir: Path) -> Path:
    """The graph for `model_dir`, exported now (saying so on stderr) if this is its first use."""
    target = graph_path(model_dir, cache_dir)
    if not target.exists():
        print(f"newsrag: exporting the bundled model to ONNX, once, into {target} ...", file=sys.stderr, flush=True)
        export(model_dir, target)
        print("newsrag: export done", file=sys.stderr, flush=True)
    return target


def main() -> int:
    from rag.embeddings import bundled_model_path
    from rag.settings import Settings, prepare_environment

    prepare_environment()
    settings = Settings()
    path = ensure_graph(bundled_model_path(), settings.model_cache)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
