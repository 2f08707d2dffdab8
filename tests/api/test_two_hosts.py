"""Two API hosts, nothing shared on disk: one Chroma server (`chroma run`), one PostgreSQL for the catalog,
and two `newsrag serve` processes, each with its own data folder and working directory (host B with two
workers). Writes through either host are seen by the other; the same folder ingested through both at
once ends in one clean state; /metrics adds up B's workers.

The commands are the ones README's deployment section gives.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
import httpx
import psycopg
import pytest
from chromadb.config import Settings as ChromaSettings
from psycopg import sql

from benchmarks.ingest import generate_corpus, write_corpus
from tests.api.conftest import assert_answer_valid
from tests.api.test_chroma_server import newsrag_command
from tests.api.test_metrics import samples
from tests.support.chroma_server import ChromaServer, chroma_server  # noqa: F401 - fixture used by name
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401 - fixture used by name
from tests.support.servers import ManagedProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BRIDGE = {
    "title": "City council approves new harbour bridge",
    "body": "The city council of Northport approved a new harbour bridge on Monday at a cost of $2 billion. "
    "Construction is expected to start next spring and take four years.",
    "url": "https://example.test/bridge",
    "source": "Harbour Herald",
    "published_at": "2025-03-03",
}
FERRY = {
    "title": "Ferry service extended to midnight",
    "body": "The ferry between Northport and the islands will run until midnight from May, the operator said, "
    "after a rise in evening passengers.",
    "url": "https://example.test/ferry",
    "source": "Island Times",
    "published_at": "2025-04-01",
}
TRAM = {
    "title": "Tram line to the airport opens",
    "body": "The new tram line from Northport station to the airport opened on Friday; a ride takes 22 minutes "
    "and costs $3.",
    "url": "https://example.test/tram",
    "source": "Harbour Herald",
    "published_at": "2025-05-02",
}
QUESTION = {"question": "How much will the Northport harbour bridge cost?"}


@contextmanager
def host(name: str, root: Path, env: dict[str, str], *extra: str) -> Iterator[str]:
    """`newsrag serve` as one host: its own data folder and working directory."""
    folder = root / name
    folder.mkdir()
    port = free_port()
    proc = ManagedProcess(
        [*newsrag_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *extra],
        log_path=root / f"{name}.log",
        env={**env, "NEWSRAG_DATA_DIR": str(folder / "data")},
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    proc.start(ready=f"{url}/readyz", timeout=180)
    try:
        yield url
    finally:
        proc.stop()


def ingest_cli(root: Path, name: str, env: dict[str, str], corpus: Path) -> subprocess.CompletedProcess[str]:
    folder = root / name
    return subprocess.run(
        [*newsrag_command(), "ingest", "--json", str(corpus)],
        env={**env, "NEWSRAG_DATA_DIR": str(folder / "data")},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )


def stored_chunk_ids(pg: PostgresServer, chroma: ChromaServer, collection: str) -> tuple[list[str], list[str]]:
    """Chunk ids as the catalog (PostgreSQL) and the vectors (Chroma) hold them, duplicates kept."""
    with psycopg.connect(pg.url) as conn:
        query = sql.SQL("SELECT id FROM {}.chunks ORDER BY id").format(sql.Identifier(collection))
        catalog = [row[0] for row in conn.execute(query)]
    client = chromadb.HttpClient(
        host="127.0.0.1", port=chroma.port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    vectors = sorted(client.get_collection(collection).get(include=[])["ids"])
    return catalog, vectors


def ask(c: httpx.Client, base: str, body: dict[str, Any]) -> dict[str, Any]:
    response = c.post(f"{base}/v1/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_two_hosts_share_chroma_and_postgres(
    chroma_server: ChromaServer,  # noqa: F811
    postgres_server: PostgresServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    collection = f"hosts-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "NEWSRAG_CHROMA_URL": chroma_server.url,
        "NEWSRAG_CATALOG_URL": postgres_server.url,
        "NEWSRAG_COLLECTION": collection,
        "NEWSRAG_ANSWERER": "extractive",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    metrics_dir = tmp_path / "metrics-b"  # B's operator names the samples folder; serve empties it
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by a process that died")
    with (
        host("host-a", tmp_path, env) as a,
        host("host-b", tmp_path, {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, "--workers", "2") as b,
        httpx.Client(timeout=120, trust_env=False) as c,
    ):
        # Ingest through A; B answers from it.
        report = c.post(f"{a}/v1/articles", json=[BRIDGE, FERRY]).json()
        assert report["added"] == 2, report
        bridge_id = report["items"][0]["id"]
        asks = 4  # several, so both of B's workers very likely answer one
        for _ in range(asks):
            answer = ask(c, b, QUESTION)
            assert not answer["refused"] and "$2 billion" in answer["answer"], answer
            assert answer["citations"][0]["article_id"] == bridge_id
            assert_answer_valid(answer, c, b)
        assert c.get(f"{b}/v1/articles").json()["total"] == 2

        # Delete through B; A no longer has it, in its catalog or its answers.
        assert c.delete(f"{b}/v1/articles/{bridge_id}").status_code == 200
        assert c.get(f"{a}/v1/articles/{bridge_id}").status_code == 404
        answer = ask(c, a, QUESTION)
        assert all(cit["article_id"] != bridge_id for cit in answer["citations"])

        # Ingest through B; A answers from it.
        tram_id = c.post(f"{b}/v1/articles", json=[TRAM]).json()["items"][0]["id"]
        assert c.get(f"{a}/v1/articles/{tram_id}").status_code == 200
        answer = ask(c, a, {"question": "How long does the tram ride to the airport take?"})
        assert not answer["refused"] and "22 minutes" in answer["answer"], answer
        assert answer["citations"][0]["article_id"] == tram_id

        # /metrics on B adds up both workers: requests on fresh connections reach both (each worker writes
        # its own samples file), and B reports every one of them, whichever worker answers the scrape. The
        # kernel picks the worker that accepts a connection and may favour one for a while (or the second
        # may still be starting), so bursts go on until both have served, within a deadline.
        def healthz(_: int) -> int:
            return httpx.get(f"{b}/healthz", headers={"Connection": "close"}, trust_env=False).status_code

        def workers() -> set[str]:
            return {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}

        checks, deadline = 0, time.monotonic() + 90
        with ThreadPoolExecutor(8) as pool:
            while checks == 0 or (len(workers() - {"1"}) < 2 and time.monotonic() < deadline):
                assert set(pool.map(healthz, range(40))) == {200}
                checks += 40
        assert len(workers()) == 2 and "1" not in workers(), workers()  # both workers; the stale file is gone
        text = c.get(f"{b}/metrics").text
        served = samples(text, "newsrag_http_requests_total")
        assert served[(("method", "GET"), ("route", "/healthz"), ("status", "200"))] == checks
        assert served[(("method", "POST"), ("route", "/v1/ask"), ("status", "200"))] == asks
        stages = samples(text, "newsrag_answer_stage_duration_seconds_count")
        assert stages[(("stage", "retrieve"),)] == stages[(("stage", "verify"),)] == asks

    # The same folder ingested through both hosts at once: one clean state, no duplicates, no orphans.
    records = generate_corpus(24, seed=7, min_words=60, max_words=160)
    records[12] = {**records[11], "url": "https://partner.example/wire/12", "source": "Partner Wire"}  # a copy
    corpus = write_corpus(tmp_path / "corpus.jsonl", records)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    threads = [
        threading.Thread(target=lambda n=name: results.__setitem__(n, ingest_cli(tmp_path, n, env, corpus)))
        for name in ("host-a", "host-b")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, result in results.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    catalog_ids, vector_ids = stored_chunk_ids(postgres_server, chroma_server, collection)
    assert catalog_ids == vector_ids and len(set(catalog_ids)) == len(catalog_ids)
    (tmp_path / "again").mkdir()
    with host("host-a", tmp_path / "again", env) as a, httpx.Client(timeout=60, trust_env=False) as c:
        listing = c.get(f"{a}/v1/articles", params={"limit": 100}).json()
        assert listing["total"] == 2 + 23  # ferry, tram, and the corpus with its copy folded into the original
        again = ingest_cli(tmp_path / "again", "host-a", env, corpus)
        assert again.returncode == 0, again.stderr
        assert '"chunks": 0' in again.stdout and '"added": 0' in again.stdout, again.stdout
