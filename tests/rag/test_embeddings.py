"""The bundled model on ONNX Runtime: the same vectors as sentence-transformers, sentence vectors pooled from a
text's own tokens, and serving and the CLI without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import Embedder, OnnxEmbedder, SentenceTransformerEmbedder, bundled_model_path
from rag.onnx_export import graph_path
from rag.text import sentence_spans
from tests.conftest import REPO, SAMPLES

HEAVY = ("torch", "transformers", "sentence_transformers")

# Short and long, punctuation, numbers, non-ASCII, an empty string, one over the 256-token window.
TEXTS = [
    "How much has Microsoft invested in OpenAI?",
    "Microsoft said on Monday it would invest $10 billion in OpenAI, the maker of ChatGPT.",
    "The European Central Bank raised rates by 0.25 percentage points to 4.5%, its tenth rise in a row.",
    "Zürich's Bahnhofstrasse: prices for shops rose 12 % — the fastest in Europe, per CBRE.",
    "东京股市周一收高。",
    "",
    "Storm Ciarán closed schools across Cornwall and Devon on Thursday.\n\nTrains were cancelled too.",
    " ".join(["The council approved the budget after a long debate about transport spending."] * 30),
    *[json.loads(line)["body"][:1500] for line in (SAMPLES / "articles.jsonl").read_text().splitlines()[:12]],
]


@pytest.fixture(scope="module")
def st_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(bundled_model_path(), "st:all-MiniLM-L6-v2")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_the_default_embedder_is_onnx_under_the_old_name(embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.name == "local:all-MiniLM-L6-v2"  # stores built with sentence-transformers stay valid
    assert embedder.max_tokens == 256


@pytest.mark.slow
def test_onnx_vectors_equal_sentence_transformers(embedder: Embedder, st_embedder: SentenceTransformerEmbedder) -> None:
    ours = embedder.embed_documents(TEXTS)
    theirs = st_embedder.embed_documents(TEXTS)
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, theirs).min() >= 0.9999
    assert embedder.count_tokens(TEXTS) == st_embedder.count_tokens(TEXTS)
    query = TEXTS[0]
    assert float(embedder.embed_query(query) @ st_embedder.embed_query(query)) >= 0.9999


def test_batching_by_length_does_not_change_vectors(embedder: Embedder) -> None:
    """Padding a short text beside a long one must not leak into its vector, whatever the batch caps."""
    together = embedder.embed_documents(TEXTS)
    alone = np.stack([embedder.embed_query(t) for t in TEXTS])
    assert cosines(together, alone).min() >= 0.99999
    assert isinstance(embedder, OnnxEmbedder)
    tiny = OnnxEmbedder(bundled_model_path(), embedder.name, embedder.cache_dir, max_batch=3, batch_tokens=300)
    assert cosines(tiny.embed_documents(TEXTS), alone).min() >= 0.99999


def test_sentence_vectors_pooled_from_the_texts_own_tokens(embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxEmbedder)

    def distinct(text: str) -> bool:
        parts = [text[s:e] for s, e in sentence_spans(text)]
        return len(parts) >= 2 and len(set(parts)) == len(parts)

    texts = [t for t, n in zip(TEXTS, embedder.count_tokens(TEXTS), strict=True) if n <= 250 and distinct(t)][:6]
    assert len(texts) >= 4
    spans = [sentence_spans(t) for t in texts]
    vectors, pooled = embedder.embed_with_sentences(texts, spans)
    assert cosines(vectors, embedder.embed_documents(texts)).min() >= 0.99999  # the same pass embeds the text
    for text, text_spans, rows in zip(texts, spans, pooled, strict=True):
        assert rows.shape == (len(text_spans), 384) and rows.dtype == np.float32
        assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
        alone = embedder.embed_documents([text[s:e] for s, e in text_spans])
        similarity = rows @ alone.T  # pooled sentence i against sentence j encoded on its own
        # Each pooled vector is closest to its own sentence: it describes that sentence, not the text.
        assert (similarity.argmax(axis=1) == np.arange(len(text_spans))).all(), similarity.round(3)


def test_a_span_beyond_the_window_is_encoded_on_its_own(embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxEmbedder)
    text = " ".join(["Rates rose again."] * 120) + " The mayor resigned on Friday."
    tail = (text.rindex("The mayor"), len(text))
    _, (rows,) = embedder.embed_with_sentences([text], [[(0, 17), tail]])
    assert float(rows[1] @ embedder.embed_query("The mayor resigned on Friday.")) >= 0.9999


def test_graph_is_keyed_by_the_weights(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"a" * 10)
    first = graph_path(model, tmp_path / "cache")
    (model / "model.safetensors").write_bytes(b"b" * 11)
    assert graph_path(model, tmp_path / "cache") != first
    assert first.parent == tmp_path / "cache"


ASK_IN_PROCESS = """
import json, sys
from pathlib import Path
from fastapi.testclient import TestClient
from api.main import create_app
from ingest.loaders import load
from ingest.pipeline import ingest
from rag.chain import make_qa
from rag.models import Query
from rag.runtime import open_runtime
from rag.settings import Settings

settings = Settings(_env_file=None, data_dir=Path(sys.argv[1]))
runtime = open_runtime(settings)
ingest(load(sys.argv[2]), runtime.store, runtime.embedder, settings)
qa = make_qa(runtime)
answer = qa.ask(Query(question="How much has Microsoft invested in OpenAI?"))
qa.close()
runtime.close()
with TestClient(create_app(settings)) as client:
    served = client.post("/v1/ask", json={"question": "How much has Microsoft invested in OpenAI?"})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in %r)
print(json.dumps({"heavy": heavy, "status": served.status_code, "answered": bool(answer.answer)}))
"""


@pytest.mark.slow
@pytest.mark.integration
def test_ingest_ask_and_serve_never_import_torch(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env = {k: v for k, v in env.items() if not k.startswith("NEWSRAG_")}
    result = subprocess.run(
        [sys.executable, "-c", ASK_IN_PROCESS % (HEAVY,), str(tmp_path / "data"), str(SAMPLES / "articles.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "status": 200, "answered": True}

    # The command line, from process start, over the store just built: what python -X importtime saw.
    cli = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "api.cli", "ask", "How much has Microsoft invested?"],
        capture_output=True,
        text=True,
        env={**env, "NEWSRAG_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in cli.stderr.splitlines() if line.startswith("import time:")}
    assert "onnxruntime" in imported
    assert not {m for m in imported if m.split(".")[0] in HEAVY}
