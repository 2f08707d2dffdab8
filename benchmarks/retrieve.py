"""Where a question's time goes before the answer, in process, over the API benchmark's corpora.

    .venv/bin/python benchmarks/retrieve.py --articles 1000,10000      # corpora made by benchmarks/api.py

For each corpus (benchmarks/out/api-<N>/, built and reused by benchmarks/api.py), the same questions are
timed stage by stage, each stage called as `Retriever.retrieve` calls it: the question's embedding, the dense
search (Chroma), the keyword search (SQLite FTS5), hydration from the catalog (the chunks' text and article
fields, one query), the whole `retrieve`, and reading the hits' stored sentence vectors (`StoredSentences`).
Hydration as it was before (chunk rows, then whole article rows as Article models) is timed in the same run
as its baseline. Medians and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from benchmarks.api import OUT, pct, questions  # noqa: E402


def timed(fn: Callable[[], Any], samples: list[float]) -> Any:
    started = time.perf_counter()
    out = fn()
    samples.append(time.perf_counter() - started)
    return out


def profile(n: int, count: int) -> dict[str, Any]:
    from rag.catalog import ArticleFilter
    from rag.models import Query
    from rag.retrieve import Retriever
    from rag.runtime import open_runtime
    from rag.settings import Settings, prepare_environment

    prepare_environment()
    data = OUT / f"api-{n}"
    if not (data / "ingested.json").exists():
        raise SystemExit(f"no corpus in {data}: run benchmarks/api.py --articles {n} first")
    runtime = open_runtime(Settings(_env_file=None, data_dir=data, answerer="extractive"))
    retriever = Retriever(runtime.store, runtime.embedder, runtime.settings)
    catalog, vectors = runtime.store.catalog, runtime.store.vectors
    stages: dict[str, list[float]] = {
        k: [] for k in ("embed", "dense", "keyword", "hydrate", "hydrate_before", "retrieve", "sentences")
    }
    qs = questions(count + 10, n)
    for warm in qs[:10]:
        retriever.retrieve(Query(question=warm))
    pool = max(50, runtime.settings.top_k * 6)
    flt = ArticleFilter()
    for question in qs[10:]:
        vector = timed(lambda q=question: runtime.embedder.embed_query(q), stages["embed"])
        dense = timed(lambda v=vector: vectors.query(v, flt, pool), stages["dense"])
        keyword = timed(lambda q=question: catalog.keyword_search(q, flt, pool), stages["keyword"])
        ids = list(dict.fromkeys([m.chunk_id for m in dense] + [cid for cid, _ in keyword]))
        timed(lambda i=ids: catalog.chunk_views(i), stages["hydrate"])

        def before(i: list[str] = ids) -> None:
            chunks = catalog.chunks_of(i)
            articles = catalog.get_many(list({c.article_id for c in chunks.values()}))
            for c in chunks.values():
                _ = articles[c.article_id].body[c.start : c.end]

        timed(before, stages["hydrate_before"])
        result = timed(lambda q=question: retriever.retrieve(Query(question=q)), stages["retrieve"])
        timed(lambda h=result.hits: runtime.sentences.of(h), stages["sentences"])
    corpus = json.loads((data / "ingested.json").read_text())
    retriever.close()
    runtime.close()
    return {
        "articles": n,
        "chunks": corpus["chunks"],
        "questions": count,
        **{
            name: {"p50_ms": round(statistics.median(v) * 1000, 2), "p95_ms": round(pct(v, 0.95) * 1000, 2)}
            for name, v in stages.items()
        },
    }


def markdown(results: list[dict[str, Any]]) -> str:
    names = [
        ("embed", "question embedding"),
        ("dense", "dense search (Chroma)"),
        ("keyword", "keyword search (FTS5)"),
        ("hydrate", "hydration, one query"),
        ("hydrate_before", "hydration as before (baseline)"),
        ("retrieve", "whole `retrieve` (keyword beside the embedding)"),
        ("sentences", "stored sentence vectors of the hits"),
    ]
    head = "| stage | " + " | ".join(f"{r['chunks']:,} chunks p50 / p95" for r in results) + " |"
    lines = [head, "| --- |" + " ---: |" * len(results)]
    for key, label in names:
        cells = " | ".join(f"{r[key]['p50_ms']:.1f} / {r[key]['p95_ms']:.1f} ms" for r in results)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default="1000,10000", help="corpus sizes (folders made by benchmarks/api.py)")
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args(argv)
    results = []
    for n in (int(x) for x in args.articles.split(",")):
        results.append(profile(n, args.questions))
        print(json.dumps(results[-1]), flush=True)
    (OUT / "retrieve-results.json").write_text(json.dumps(results, indent=2))
    print()
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
