"""Per-stage answer latency in /metrics: one observation per stage per answer, over both ask routes."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import stream_events

QUESTION = {"question": "What did Microsoft announce?"}


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """`name`'s samples by sorted labels (`name` may be a histogram's _count or _sum series)."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def stage_counts(client: httpx.Client, base: str) -> dict[str, float]:
    text = client.get(f"{base}/metrics").text
    counts = samples(text, "newsrag_answer_stage_duration_seconds_count")
    return {dict(labels)["stage"]: value for labels, value in counts.items()}


def test_each_answer_observes_retrieve_answer_and_verify(sample_api: str, client: httpx.Client) -> None:
    before = stage_counts(client, sample_api)
    assert client.post(f"{sample_api}/v1/ask", json=QUESTION).status_code == 200
    status, events = stream_events(client, f"{sample_api}/v1/ask/stream", QUESTION)
    assert status == 200 and events[-1].event == "done"
    after = stage_counts(client, sample_api)
    for stage in ("retrieve", "answer", "verify"):
        assert after[stage] - before.get(stage, 0.0) == 2, stage
    assert after.get("condense", 0.0) == before.get("condense", 0.0)  # no history, no condensing
    text = client.get(f"{sample_api}/metrics").text
    sums = samples(text, "newsrag_answer_stage_duration_seconds_sum")
    assert all(value > 0 for value in sums.values())
