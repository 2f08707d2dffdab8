"""20 concurrent clients for 30 s mixing questions (plain, streamed, OpenAI-style) and ingests against
one real server: a correctness test (no errors, every answer valid, every ingest counted), not a speed
test (that is benchmarks/api.py)."""

from __future__ import annotations

import random
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.embeddings import Embedder
from rag.settings import Settings
from tests.api.conftest import parse_sse, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 20
SECONDS = 30.0
TOPICS = ["harbour bridge", "rail tunnel", "football stadium", "wind farm", "water plant", "airport runway"]
OUTLETS = ["Harbour Herald", "Coast Wire", "Metro Daily", "Valley Observer"]


def article(n: int) -> dict[str, str]:
    topic = TOPICS[n % len(TOPICS)]
    return {
        "title": f"Council approves {topic} plan number {n}",
        "body": f"The council approved the {topic} plan number {n} on Monday. It will cost ${n % 9 + 1} billion "
        f"and take {n % 5 + 2} years to build, officials said. Critics said the {topic} was too expensive.",
        "url": f"https://example.test/soak/{n}",
        "source": OUTLETS[n % len(OUTLETS)],
        "published_at": f"2025-{n % 12 + 1:02d}-{n % 27 + 1:02d}",
    }


def check_answer(answer: dict) -> None:
    numbers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer["answer"])})
    assert numbers == [c["n"] for c in answer["citations"]] == list(range(1, len(answer["citations"]) + 1))
    for c in answer["citations"]:
        assert c["quote"] and c["end"] > c["start"]


def test_concurrent_ask_and_ingest(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    seed = [article(n) for n in range(40)]
    with serving(settings, embedder) as base:
        assert httpx.post(f"{base}/v1/articles", json=seed, timeout=120, trust_env=False).json()["added"] == 40
        counter = iter(range(1000, 10**6))
        lock = threading.Lock()
        errors: list[str] = []
        done = {"ask": 0, "stream": 0, "chat": 0, "ingest": 0}
        ingested: list[int] = []
        deadline = time.monotonic() + SECONDS

        def client(index: int) -> None:
            rng = random.Random(index)
            with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:
                while time.monotonic() < deadline:
                    topic = rng.choice(TOPICS)
                    question = f"How much will the {topic} cost?"
                    kind = rng.choices(["ask", "stream", "chat", "ingest"], [5, 2, 2, 1])[0]
                    try:
                        if kind == "ask":
                            r = c.post("/v1/ask", json={"question": question})
                            assert r.status_code == 200, r.text
                            check_answer(r.json())
                        elif kind == "stream":
                            with c.stream("POST", "/v1/ask/stream", json={"question": question}) as r:
                                assert r.status_code == 200
                                events = list(parse_sse(r.iter_lines()))
                            assert events[0].event == "sources" and events[-1].event == "done", events[-1]
                            check_answer(events[-1].data["answer"])
                        elif kind == "chat":
                            r = c.post(
                                "/v1/chat/completions",
                                json={"model": "newsrag", "messages": [{"role": "user", "content": question}]},
                            )
                            assert r.status_code == 200, r.text
                            assert "citations" in r.json()
                        else:
                            with lock:
                                numbers = [next(counter), next(counter)]
                            r = c.post("/v1/articles", json=[article(n) for n in numbers])
                            assert r.status_code == 200, r.text
                            assert r.json()["added"] == 2, r.json()
                            with lock:
                                ingested.extend(numbers)
                        with lock:
                            done[kind] += 1
                    except Exception as exc:  # collected, reported together
                        with lock:
                            errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:500])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SECONDS + 120)
        assert not any(t.is_alive() for t in threads)
        assert not errors, f"{len(errors)} errors, first: {errors[:5]}"
        assert all(done[k] > 0 for k in done), done
        total = httpx.get(f"{base}/v1/articles", params={"limit": 1}, trust_env=False).json()["total"]
        assert total == 40 + len(ingested)
        metrics = httpx.get(f"{base}/metrics", trust_env=False).text
        assert f'newsrag_ingested_articles_total{{result="added"}} {40 + len(ingested)}.0' in metrics
        print(f"\nsoak: {done} in {SECONDS:.0f}s with {CLIENTS} clients")
