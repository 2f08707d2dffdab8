"""API benchmark: /v1/ask throughput and latency, and the time-to-first-token the service adds.

    .venv/bin/python benchmarks/api.py                  # 10,000 generated articles, 20 s per level
    .venv/bin/python benchmarks/api.py --quick          # 1,000 articles, 5 s per level (a smoke run)
    .venv/bin/python benchmarks/api.py --write          # also write the "## API" section of RESULTS.md

1. A corpus of generated articles (deterministic: same seed, same text) is ingested once into
   benchmarks/out/api-<N>/ through the real pipeline, and reused by later runs.
2. `newsrag serve` runs as its own process over it in extractive mode (the embedded default); clients
   from this process POST /v1/ask with varied questions at 1, 8 and 32 concurrent clients: requests/s,
   p50/p95 latency, errors. Client and server share the machine's cores.
3. Time to first token: the scripted OpenAI-compatible server (tests/support/fake_llm.py) streams a
   reply; we time the first content token when calling it directly, and the first `token` event of
   POST /v1/ask/stream and the first content chunk of POST /v1/chat/completions (stream) when the
   service, started in LLM mode against it, calls it. The difference is what the service adds
   (retrieval over the corpus, the prompt, LangChain and the SSE hop). Target: p50 <= 50 ms added.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

OUT = REPO / "benchmarks" / "out"
RESULTS = REPO / "benchmarks" / "RESULTS.md"

# ------------------------------------------------------------------------------------------- corpus

OUTLETS = [
    "Harbour Herald",
    "Metro Daily",
    "The Inland Courier",
    "Northern Ledger",
    "Coastline Times",
    "Capital Wire",
    "Market Street Journal",
    "Valley Observer",
]
PLACES = [
    "Northport",
    "Eastvale",
    "Lakeside",
    "Riverton",
    "Southbay",
    "Westfield",
    "Greyhaven",
    "Ashford",
    "Kingsbridge",
    "Millbrook",
    "Oakham",
    "Stonebridge",
]
PROJECTS = [
    "harbour bridge",
    "rail tunnel",
    "football stadium",
    "wind farm",
    "water treatment plant",
    "airport runway",
    "hospital wing",
    "tram line",
    "solar park",
    "flood barrier",
    "data centre",
    "concert hall",
    "port expansion",
    "housing estate",
    "ring road",
    "battery factory",
]
ACTORS = [
    "the city council",
    "the regional government",
    "a private consortium",
    "the transport agency",
    "the energy regulator",
    "local residents",
    "the mayor",
    "opposition councillors",
]
VERBS = ["approved", "delayed", "criticised", "defended", "postponed", "revised", "confirmed", "questioned"]


def generate_article(i: int) -> dict[str, Any]:
    rng = random.Random(i)
    place, project, outlet = rng.choice(PLACES), rng.choice(PROJECTS), OUTLETS[i % len(OUTLETS)]
    cost = rng.randint(2, 90) * 10
    years = rng.randint(2, 9)
    day = datetime(2023, 1, 1, 8, tzinfo=UTC) + timedelta(days=rng.randint(0, 1000), minutes=rng.randint(0, 600))
    sentences = [
        f"{rng.choice(ACTORS).capitalize()} {rng.choice(VERBS)} the {place} {project} on {day:%A}.",
        f"The {project} in {place} is expected to cost ${cost} million and take {years} years to build.",
        f"Officials said work on the {project} would begin in {day.year + 1}, pending a final review.",
        f"{rng.choice(ACTORS).capitalize()} said the plan for {place} had been {rng.choice(VERBS)} "
        f"after a consultation that drew {rng.randint(100, 9000)} responses.",
        f"Critics argued the {project} was {rng.choice(['too expensive', 'badly located', 'overdue', 'too small'])}, "
        f"while supporters pointed to {rng.randint(50, 4000)} new jobs.",
        f"Report number {i} from {outlet} was filed by its {place} correspondent.",
    ]
    rng.shuffle(sentences[1:5])
    return {
        "id": f"bench-{i:06d}",
        "title": f"{place} {project}: {rng.choice(ACTORS)} {rng.choice(VERBS)} the plan",
        "body": " ".join(sentences),
        "source": outlet,
        "published_at": day.isoformat(),
    }


def questions(n: int, corpus_size: int) -> list[str]:
    rng = random.Random(12345)
    out = []
    for _ in range(n):
        a = generate_article(rng.randrange(corpus_size))
        place, _, rest = a["title"].partition(" ")
        project = rest.split(":")[0]
        out.append(
            rng.choice(
                [
                    f"How much will the {place} {project} cost?",
                    f"When will work on the {project} in {place} begin?",
                    f"What did critics say about the {place} {project}?",
                    f"How many jobs will the {project} in {place} create?",
                ]
            )
        )
    return out


def ensure_corpus(n: int) -> Path:
    """Ingest n generated articles once; later runs reuse the folder (a marker file says it is complete)."""
    from rag.settings import Settings, prepare_environment

    prepare_environment()
    data = OUT / f"api-{n}"
    marker = data / "ingested.json"
    if marker.exists():
        print(f"corpus: reusing {n:,} articles in {data}", flush=True)
        return data
    from ingest.loaders.base import LoadedItem
    from ingest.pipeline import ingest
    from ingest.validate import RawArticle, validate
    from rag.runtime import open_runtime

    settings = Settings(_env_file=None, data_dir=data)
    runtime = open_runtime(settings)
    print(f"corpus: generating and ingesting {n:,} articles into {data} (once)", flush=True)
    started = time.perf_counter()
    items = (
        LoadedItem("bench", str(i), article=validate(RawArticle.from_mapping(generate_article(i)), 500_000))
        for i in range(n)
    )
    report = ingest(items, runtime.store, runtime.embedder, settings)
    chunks = runtime.store.vectors.count()
    runtime.close()
    seconds = time.perf_counter() - started
    assert not report.failed, report.failed[:3]
    marker.write_text(json.dumps({"articles": n, "chunks": chunks, "seconds": round(seconds, 1)}))
    print(f"corpus: {report.added:,} articles, {chunks:,} chunks in {seconds:.0f}s", flush=True)
    return data


# ------------------------------------------------------------------------------------------ servers


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess:
    def __init__(self, data: Path, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).parent / "newsrag"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "api.cli"]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(self.port), "--log-level", "warning"],
            env={**os.environ, "NEWSRAG_DATA_DIR": str(data), **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=OUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"newsrag serve exited: see {log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"newsrag serve not ready: see {log}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# ------------------------------------------------------------------------------------------- load


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def load_level(url: str, clients: int, seconds: float, qs: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    refused = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits, trust_env=False) as client:
        # Warm up (connections, caches) before the clock starts.
        await asyncio.gather(*(client.post("/v1/ask", json={"question": qs[i]}) for i in range(clients)))
        deadline = time.perf_counter() + seconds
        counter = iter(range(10**9))

        async def worker() -> None:
            nonlocal refused
            while time.perf_counter() < deadline:
                question = qs[next(counter) % len(qs)]
                started = time.perf_counter()
                response = await client.post("/v1/ask", json={"question": question})
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                latencies.append(elapsed)
                refused += bool(response.json()["refused"])

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - began
    return {
        "clients": clients,
        "requests": len(latencies),
        "rps": round(len(latencies) / wall, 2),
        "p50_ms": round(pct(latencies, 0.5) * 1000, 1),
        "p95_ms": round(pct(latencies, 0.95) * 1000, 1),
        "errors": len(errors),
        "refused": refused,
        "first_error": errors[0] if errors else None,
    }


def first_token_direct(client: httpx.Client, base: str) -> float:
    body = {"model": "scripted", "stream": True, "messages": [{"role": "user", "content": "Say something."}]}
    started = time.perf_counter()
    elapsed = None
    with client.stream("POST", f"{base}/chat/completions", json=body) as response:
        for line in response.iter_lines():  # read to the end, as the service does
            if elapsed is None and line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    elapsed = time.perf_counter() - started
    if elapsed is None:
        raise RuntimeError("no content from the scripted server")
    return elapsed


def first_token_ask_stream(client: httpx.Client, base: str, question: str) -> float:
    started = time.perf_counter()
    elapsed = None
    with client.stream("POST", f"{base}/v1/ask/stream", json={"question": question}) as response:
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "token" and elapsed is None:
                    elapsed = time.perf_counter() - started
            elif event == "error":
                raise RuntimeError(line)
    if elapsed is None:
        raise RuntimeError("no token event")
    return elapsed


def first_token_chat(client: httpx.Client, base: str, question: str) -> float:
    body = {"model": "newsrag", "stream": True, "messages": [{"role": "user", "content": question}]}
    started = time.perf_counter()
    elapsed = None
    with client.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if elapsed is None and line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                    elapsed = time.perf_counter() - started
    if elapsed is None:
        raise RuntimeError("no content chunk")
    return elapsed


def ttft(data: Path, qs: list[str], rounds: int) -> dict[str, Any]:
    from testkit.scripted_llm import FakeLLM, TextReply, split_tokens

    reply = "The project will cost $120 million [1] and take four years to build [1]."
    fake = FakeLLM(default_reply=TextReply(reply, split_tokens(reply))).start()
    env = {
        "NEWSRAG_ANSWERER": "openai",
        "NEWSRAG_LLM_MODEL": "scripted",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": "test",
        "NEWSRAG_LLM_MAX_RETRIES": "0",
        "NEWSRAG_LLM_TIMEOUT": "30",
    }
    api = ApiProcess(data, env, OUT / "api-bench-llm.log")
    direct: list[float] = []
    via_ask: list[float] = []
    via_chat: list[float] = []
    try:
        with httpx.Client(timeout=60, trust_env=False) as client:
            for i in range(5):  # warm up every path
                first_token_direct(client, fake.base_url)
                first_token_ask_stream(client, api.url, qs[i])
                first_token_chat(client, api.url, qs[i])
            for i in range(rounds):  # interleaved, so drift hits all three alike
                question = qs[(i * 7) % len(qs)]
                direct.append(first_token_direct(client, fake.base_url))
                via_ask.append(first_token_ask_stream(client, api.url, question))
                via_chat.append(first_token_chat(client, api.url, question))
    finally:
        api.stop()
        fake.stop()

    def ms(values: list[float], q: float) -> float:
        return round(pct(values, q) * 1000, 1)

    return {
        "rounds": rounds,
        "direct_p50_ms": ms(direct, 0.5),
        "direct_p95_ms": ms(direct, 0.95),
        "ask_stream_p50_ms": ms(via_ask, 0.5),
        "ask_stream_p95_ms": ms(via_ask, 0.95),
        "chat_stream_p50_ms": ms(via_chat, 0.5),
        "chat_stream_p95_ms": ms(via_chat, 0.95),
        "added_ask_p50_ms": round((statistics.median(via_ask) - statistics.median(direct)) * 1000, 1),
        "added_chat_p50_ms": round((statistics.median(via_chat) - statistics.median(direct)) * 1000, 1),
    }


# ------------------------------------------------------------------------------------------- report


def markdown(result: dict[str, Any]) -> str:
    corpus = result["corpus"]
    lines = [
        "## API",
        "",
        f"`benchmarks/api.py` on {result['machine']}, {result['date']}. Corpus: {corpus['articles']:,} generated "
        f"articles ({corpus['chunks']:,} chunks), ingested once (took {corpus['seconds']:.0f} s). `newsrag serve` "
        "(one process, embedded Chroma, extractive answers) and the load-generating clients share the machine.",
        "",
        f"`POST /v1/ask`, varied questions, {result['seconds_per_level']:.0f} s per level after a warm-up:",
        "",
        "| concurrent clients | requests | requests/s | p50 latency | p95 latency | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for level in result["levels"]:
        lines.append(
            f"| {level['clients']} | {level['requests']} | {level['rps']:.1f} | {level['p50_ms']:.0f} ms | "
            f"{level['p95_ms']:.0f} ms | {level['errors']} |"
        )
    t = result["ttft"]
    verdict = "met" if max(t["added_ask_p50_ms"], t["added_chat_p50_ms"]) <= 50 else "NOT met"
    lines += [
        "",
        f"Time to first token, scripted OpenAI-compatible server, {t['rounds']} sequential rounds "
        "(interleaved), same corpus:",
        "",
        "| path | p50 | p95 | added over direct (p50) |",
        "| --- | ---: | ---: | ---: |",
        f"| scripted server called directly | {t['direct_p50_ms']} ms | {t['direct_p95_ms']} ms | - |",
        f"| `POST /v1/ask/stream` (first `token` event) | {t['ask_stream_p50_ms']} ms | {t['ask_stream_p95_ms']} ms "
        f"| {t['added_ask_p50_ms']} ms |",
        f"| `POST /v1/chat/completions` stream (first content) | {t['chat_stream_p50_ms']} ms | "
        f"{t['chat_stream_p95_ms']} ms | {t['added_chat_p50_ms']} ms |",
        "",
        f"Target p50 added <= 50 ms: {verdict}. What is added: embedding the question, dense + keyword retrieval "
        "over the corpus, the prompt, LangChain's streaming and the extra SSE hop.",
        "",
    ]
    return "\n".join(lines)


def write_results(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = text.find("## API\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per concurrency level")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--ttft-rounds", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="1,000 articles, 5 s per level, 20 TTFT rounds")
    parser.add_argument("--write", action="store_true", help="write the '## API' section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.articles, args.seconds, args.ttft_rounds = 1_000, 5.0, 20
    OUT.mkdir(parents=True, exist_ok=True)

    data = ensure_corpus(args.articles)
    corpus = json.loads((data / "ingested.json").read_text())
    qs = questions(400, args.articles)

    api = ApiProcess(data, {"NEWSRAG_ANSWERER": "extractive"}, OUT / "api-bench.log")
    levels = []
    try:
        for clients in (int(x) for x in args.levels.split(",")):
            level = asyncio.run(load_level(api.url, clients, args.seconds, qs))
            print(json.dumps(level), flush=True)
            levels.append(level)
    finally:
        api.stop()

    timing = ttft(data, qs, args.ttft_rounds)
    print(json.dumps(timing), flush=True)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "corpus": corpus,
        "seconds_per_level": args.seconds,
        "levels": levels,
        "ttft": timing,
    }
    (OUT / f"api-results-{args.articles}.json").write_text(json.dumps(result, indent=2))
    section = markdown(result)
    print()
    print(section)
    if args.write:
        write_results(section)
        print(f"wrote the '## API' section of {RESULTS}")
    return 1 if any(level["errors"] for level in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
