"""API benchmark: /v1/ask throughput and latency, start-up, memory, `newsrag ask`, time-to-first-token.

    .venv/bin/python benchmarks/api.py                          # 10,000 generated articles, 20 s per level
    .venv/bin/python benchmarks/api.py --articles 1000,10000 --baseline ../main   # beside an older checkout
    .venv/bin/python benchmarks/api.py --quick                  # 1,000 articles, 5 s per level (a smoke run)
    .venv/bin/python benchmarks/api.py --write                  # also write the "## API" section of RESULTS.md
    nice -n 19 .venv/bin/python benchmarks/api.py --articles 1000,10000,50000 --build-only   # corpora only

1. Corpora of generated articles (deterministic: same seed, same text; one chunk each) are ingested once into
   benchmarks/out/api-<N>/ through the real pipeline, and reused by later runs.
2. The question's embedding alone is timed in this process: the floor under any request.
3. `newsrag serve` runs as its own process over each corpus in extractive mode (the embedded default), and
   with `--baseline DIR` the same is done with that checkout's code on the same corpus, both up at once and
   measured in turns at each level; clients from this process POST /v1/ask with varied questions at 1, 8
   and 32 concurrent clients: requests/s, p50/p95 latency, errors, time from start to /readyz, resident
   memory, and the server's own stage timings. Client and server share the machine's cores.
4. Memory: resident memory of the served process before and after 60 s at 32 clients (largest corpus).
5. `newsrag ask` over samples/ from process start to the printed answer.
6. Time to first token: the scripted OpenAI-compatible server (testkit/scripted_llm.py) streams a
   reply; we time the first content token when calling it directly, and the first `token` event of
   POST /v1/ask/stream and the first content chunk of POST /v1/chat/completions (stream) when the
   service, started in LLM mode against it, calls it. The difference is what the service adds
   (retrieval over the corpus, the prompt, LangChain and the SSE hop).
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
    """`newsrag serve` as its own process; `code` runs another checkout's code (a same-run baseline)."""

    def __init__(self, data: Path, env: dict[str, str], log: Path, code: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "api.cli"]
        self._log = log.open("wb")
        extra = {"PYTHONPATH": str(code or REPO)}
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*cmd, "serve", "--port", str(self.port), "--log-level", "warning"],
            env={**os.environ, "NEWSRAG_DATA_DIR": str(data), **extra, **env},
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
                    self.ready_seconds = time.perf_counter() - started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"newsrag serve not ready: see {log}")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

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
    stages: dict[str, list[float]] = {}  # the server's own per-stage timings (Answer.timings_ms)
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
                answer = response.json()
                refused += bool(answer["refused"])
                for stage, ms in (answer.get("timings_ms") or {}).items():
                    stages.setdefault(stage, []).append(ms)

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
        "server_stages_p50_ms": {stage: round(statistics.median(v), 2) for stage, v in stages.items()},
    }


def first_token_direct(base: str) -> float:
    """A fresh connection each time: on a connection kept alive from the call before, the scripted server
    (uvicorn with h11) sent the first byte 40+ ms late from the second call on (44 ms p50 in a run of
    2026-12-04, while the service's own calls to it took under 15 ms all included)."""
    body = {"model": "scripted", "stream": True, "messages": [{"role": "user", "content": "Say something."}]}
    with httpx.Client(timeout=60, trust_env=False) as client:
        return _first_token_direct(client, base, body)


def _first_token_direct(client: httpx.Client, base: str, body: dict[str, Any]) -> float:
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


def ttft(data: Path, qs: list[str], rounds: int, code: Path | None = None) -> dict[str, Any]:
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
    api = ApiProcess(data, env, OUT / "api-bench-llm.log", code)
    direct: list[float] = []
    via_ask: list[float] = []
    via_chat: list[float] = []
    try:
        with httpx.Client(timeout=60, trust_env=False) as client:
            for i in range(5):  # warm up every path
                first_token_direct(fake.base_url)
                first_token_ask_stream(client, api.url, qs[i])
                first_token_chat(client, api.url, qs[i])
            for i in range(rounds):  # interleaved, so drift hits all three alike
                question = qs[(i * 7) % len(qs)]
                direct.append(first_token_direct(fake.base_url))
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
    runs = result["runs"]
    base = runs.get("baseline") or {}
    lines = [
        "## API",
        "",
        f"`benchmarks/api.py` on {result['machine']}, {result['date']}; load average "
        f"{result.get('load_average_start', float('nan')):.1f} at the start, {result['load_average_end']:.1f} "
        f"at the end (2 cores: above ~2 means other work shared the CPU). Baseline: {result['baseline'] or 'none'}, "
        "run on the same corpora in the same run. `newsrag serve` (one process, embedded Chroma, extractive answers) "
        f"and the clients share the machine; {result['seconds_per_level']:.0f} s per level after a warm-up.",
        "",
        "| chunks | clients | requests/s | p50 | p95 | errors | baseline requests/s | baseline p50 | baseline p95 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, serve in runs["ours"]["serve"].items():
        chunks = result["corpora"][n]["chunks"]
        theirs = {lv["clients"]: lv for lv in base.get("serve", {}).get(n, {}).get("levels", [])}
        for lv in serve["levels"]:
            b = theirs.get(lv["clients"])
            tail = f"{b['rps']:.1f} | {b['p50_ms']:.0f} ms | {b['p95_ms']:.0f} ms" if b else "- | - | -"
            lines.append(
                f"| {chunks:,} | {lv['clients']} | {lv['rps']:.1f} | {lv['p50_ms']:.0f} ms | {lv['p95_ms']:.0f} ms | "
                f"{lv['errors']} | {tail} |"
            )
    lines += [
        "",
        "Inside the server at 1 client (Answer.timings_ms, p50): "
        + "; ".join(
            f"{result['corpora'][n]['chunks']:,} chunks: "
            + ", ".join(f"{k} {v} ms" for k, v in serve["levels"][0].get("server_stages_p50_ms", {}).items())
            for n, serve in runs["ours"]["serve"].items()
        )
        + ".",
    ]
    lines += ["", "| chunks | question embedding alone (floor) p50 / p95 | serve ready | baseline serve ready |"]
    lines += ["| ---: | ---: | ---: | ---: |"]
    for n, floor in runs["ours"]["floor"].items():
        b = base.get("serve", {}).get(n)
        lines.append(
            f"| {result['corpora'][n]['chunks']:,} | {floor['p50_ms']} / {floor['p95_ms']} ms | "
            f"{runs['ours']['serve'][n]['ready_seconds']} s | {b['ready_seconds'] if b else '-'} s |"
        )
    if "memory" in runs["ours"]:
        m, bm = runs["ours"]["memory"], base.get("memory")
        lines += [
            "",
            f"Resident memory, {m['clients']} clients for {m['seconds']:.0f} s: {m['rss_mb_ready']} MB ready, "
            f"{m['rss_mb_after']} MB after ({m['rps']:.1f} requests/s, {m['errors']} errors)"
            + (
                f"; baseline {bm['rss_mb_ready']} MB -> {bm['rss_mb_after']} MB ({bm['rps']:.1f} requests/s)."
                if bm
                else "."
            ),
        ]
    if "ask" in runs["ours"]:
        a, ba = runs["ours"]["ask"], base.get("ask")
        lines += [
            "",
            f"`newsrag ask` over samples/, process start to printed answer, {a['runs']} runs: p50 {a['p50_s']} s, "
            f"max {a['max_s']} s" + (f"; baseline p50 {ba['p50_s']} s, max {ba['max_s']} s." if ba else "."),
        ]
    t = result.get("ttft")
    if t:
        lines += [
            "",
            f"Time to first token, scripted OpenAI-compatible server, {t['rounds']} sequential rounds (interleaved), "
            f"over {t['chunks']:,} chunks:",
            "",
            "| path | p50 | p95 | added over direct (p50) |",
            "| --- | ---: | ---: | ---: |",
            f"| scripted server called directly | {t['direct_p50_ms']} ms | {t['direct_p95_ms']} ms | - |",
            f"| `POST /v1/ask/stream` (first `token` event) | {t['ask_stream_p50_ms']} ms | "
            f"{t['ask_stream_p95_ms']} ms | {t['added_ask_p50_ms']} ms |",
            f"| `POST /v1/chat/completions` stream (first content) | {t['chat_stream_p50_ms']} ms | "
            f"{t['chat_stream_p95_ms']} ms | {t['added_chat_p50_ms']} ms |",
        ]
    lines.append("")
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


def embedding_floor(qs: list[str]) -> dict[str, float]:
    """The question's embedding alone, in this process with the server's embedder: what no request can beat."""
    from rag.embeddings import make_embedder
    from rag.settings import Settings

    embedder = make_embedder(Settings(_env_file=None))
    for q in qs[:10]:
        embedder.embed_query(q)
    samples = []
    for q in qs[:200]:
        started = time.perf_counter()
        embedder.embed_query(q)
        samples.append(time.perf_counter() - started)
    return {"p50_ms": round(pct(samples, 0.5) * 1000, 2), "p95_ms": round(pct(samples, 0.95) * 1000, 2)}


def serve_levels(
    data: Path, qs: list[str], levels: list[int], seconds: float, sides: dict[str, Path | None], n: int
) -> dict[str, dict]:
    """Each side's `newsrag serve` over one corpus, all of them up at once, measured level by level in turns
    (ours then the baseline at one level, the other way round at the next), so a change in the machine's load
    during the run falls on both sides alike rather than on whichever ran second."""
    apis: dict[str, ApiProcess] = {}
    out: dict[str, dict] = {}
    try:
        for tag, code in sides.items():
            api = ApiProcess(data, {"NEWSRAG_ANSWERER": "extractive"}, OUT / f"api-bench-{tag}-{n}.log", code)
            apis[tag] = api
            out[tag] = {"ready_seconds": round(api.ready_seconds, 2), "rss_mb_ready": round(api.rss_mb()), "levels": []}
        for i, clients in enumerate(levels):
            for tag in list(apis) if i % 2 == 0 else list(reversed(apis)):
                level = asyncio.run(load_level(apis[tag].url, clients, seconds, qs))
                level["rss_mb_after"] = round(apis[tag].rss_mb())
                print(f"{tag}-{n}", json.dumps(level), flush=True)
                out[tag]["levels"].append(level)
    finally:
        for api in apis.values():
            api.stop()
    return out


def memory_soak(data: Path, qs: list[str], clients: int, seconds: float, code: Path | None, tag: str) -> dict:
    """Resident memory of the served process before and after `seconds` at `clients` concurrent clients."""
    api = ApiProcess(data, {"NEWSRAG_ANSWERER": "extractive"}, OUT / f"api-soak-{tag}.log", code)
    try:
        before = api.rss_mb()
        level = asyncio.run(load_level(api.url, clients, seconds, qs))
        after = api.rss_mb()
    finally:
        api.stop()
    result = {"clients": clients, "seconds": seconds, "rss_mb_ready": round(before), "rss_mb_after": round(after)}
    result.update({k: level[k] for k in ("requests", "rps", "p50_ms", "p95_ms", "errors")})
    print(tag, "soak", json.dumps(result), flush=True)
    return result


SAMPLE_QUESTIONS = [
    "How much has Microsoft invested?",
    "What did the central bank decide about interest rates?",
    "Who won the election?",
    "What happened to the Firefly lander?",
    "What are the risks of the new AI model?",
]


def cli_ask(code: Path | None, tag: str, runs: int) -> dict[str, Any]:
    """`newsrag ask` over samples/, from process start to the printed answer (the store ingested once, untimed)."""
    data = OUT / f"samples-{tag}"
    env = {**os.environ, "NEWSRAG_DATA_DIR": str(data), "PYTHONPATH": str(code or REPO)}
    env.pop("NEWSRAG_ANSWERER", None)
    cmd = [sys.executable, "-m", "api.cli"]
    if not (data / "ingested").exists():
        subprocess.run([*cmd, "ingest", str(REPO / "samples")], env=env, cwd=OUT, check=True, capture_output=True)
        (data / "ingested").write_text("")
    walls = []
    for i in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [*cmd, "ask", SAMPLE_QUESTIONS[i % len(SAMPLE_QUESTIONS)]],
            env=env,
            cwd=OUT,
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - started)
    result = {"runs": runs, "p50_s": round(pct(walls, 0.5), 2), "max_s": round(max(walls), 2)}
    print(tag, "ask", json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default="10000", help="corpus sizes, comma-separated (one chunk each)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per concurrency level")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--ttft-rounds", type=int, default=60)
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. the main branch) run on the same corpora")
    parser.add_argument("--ours", type=Path, help="the checkout measured as ours (default: this one)")
    parser.add_argument("--memory-seconds", type=float, default=60.0, help="the 32-client soak for resident memory")
    parser.add_argument("--ask-runs", type=int, default=5, help="`newsrag ask` runs over samples/")
    parser.add_argument("--skip-ttft", action="store_true")
    parser.add_argument(
        "--ttft-articles", type=int, help="the corpus time to first token is measured over (default: the largest)"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 articles, 5 s per level, 20 TTFT rounds")
    parser.add_argument("--write", action="store_true", help="write the '## API' section of benchmarks/RESULTS.md")
    parser.add_argument(
        "--build-only", action="store_true", help="ingest the corpora that are missing, measure nothing, and exit"
    )
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    if args.quick:
        args.articles, args.seconds, args.ttft_rounds = "1000", 5.0, 20
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.articles.split(",")]
    if args.build_only:
        for n in sizes:
            ensure_corpus(n)
        return 0
    levels = [int(x) for x in args.levels.split(",")]
    runs: dict[str, Any] = {"ours": {}, "baseline": {}}
    corpora = {}
    for n in sizes:
        data = ensure_corpus(n)
        corpora[n] = json.loads((data / "ingested.json").read_text())
        qs = questions(400, n)
        runs["ours"].setdefault("floor", {})[n] = embedding_floor(qs)
        sides = {"ours": args.ours, **({"baseline": args.baseline} if args.baseline else {})}
        for tag, measured in serve_levels(data, qs, levels, args.seconds, sides, n).items():
            runs[tag].setdefault("serve", {})[n] = measured
    largest = ensure_corpus(sizes[-1])
    qs = questions(400, sizes[-1])
    if args.memory_seconds:
        runs["ours"]["memory"] = memory_soak(largest, qs, 32, args.memory_seconds, args.ours, "ours")
        if args.baseline:
            runs["baseline"]["memory"] = memory_soak(largest, qs, 32, args.memory_seconds, args.baseline, "baseline")
    if args.ask_runs:
        runs["ours"]["ask"] = cli_ask(args.ours, "ours", args.ask_runs)
        if args.baseline:
            runs["baseline"]["ask"] = cli_ask(args.baseline, "baseline", args.ask_runs)
    timing = None
    if not args.skip_ttft:
        ttft_size = args.ttft_articles or sizes[-1]
        ttft_data = ensure_corpus(ttft_size)
        timing = {
            "chunks": json.loads((ttft_data / "ingested.json").read_text())["chunks"],
            **ttft(ttft_data, questions(400, ttft_size), args.ttft_rounds, args.ours),
        }
    if timing:
        print(json.dumps(timing), flush=True)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "load_average_start": load_start,
        "load_average_end": os.getloadavg()[0],
        "baseline": str(args.baseline) if args.baseline else None,
        "ours": str(args.ours or REPO),
        "corpora": corpora,
        "seconds_per_level": args.seconds,
        "runs": runs,
        "ttft": timing,
    }
    (OUT / f"api-results-{args.articles.replace(',', '-')}.json").write_text(json.dumps(result, indent=2, default=str))
    section = markdown(result)
    print()
    print(section)
    if args.write:
        write_results(section)
        print(f"wrote the '## API' section of {RESULTS}")
    errors = [lv["errors"] for side in runs.values() for r in side.get("serve", {}).values() for lv in r["levels"]]
    return 1 if any(errors) else 0


if __name__ == "__main__":
    sys.exit(main())
