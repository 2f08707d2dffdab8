"""POST /v1/ask and /v1/ask/stream over the samples corpus, through a real uvicorn server."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import MICROSOFT, assert_answer_valid, stream_events

pytestmark = pytest.mark.integration


def test_ask_answers_with_verified_citations(sample_api: str, client: httpx.Client) -> None:
    response = client.post(f"{sample_api}/v1/ask", json={"question": MICROSOFT})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert not answer["refused"]
    assert "$13 billion" in answer["answer"]
    assert answer["citations"] and answer["mode"] == "extractive"
    assert any(c["source"] for c in answer["citations"])
    assert_answer_valid(answer, client, sample_api)


def test_ask_filters_and_date_refusal(sample_api: str, client: httpx.Client) -> None:
    body = {"question": MICROSOFT, "filters": {"sources": ["Tech Times"]}}
    answer = client.post(f"{sample_api}/v1/ask", json=body).json()
    assert answer["citations"]
    assert {c["source"] for c in answer["citations"]} == {"Tech Times"}
    assert {s["source"] for s in answer["sources"]} == {"Tech Times"}

    body = {"question": MICROSOFT, "filters": {"since": "1990-01-01", "until": "1990-12-31"}}
    answer = client.post(f"{sample_api}/v1/ask", json=body).json()
    assert answer["refused"] and answer["refusal_reason"] == "no_sources_in_date_range"
    assert answer["sources"], "a date refusal still lists the closest sources"


def test_ask_stream_events_in_order(sample_api: str, client: httpx.Client) -> None:
    status, events = stream_events(client, f"{sample_api}/v1/ask/stream", {"question": MICROSOFT})
    assert status == 200
    kinds = [e.event for e in events]
    assert kinds[0] == "sources" and kinds[-1] == "done"
    assert "token" in kinds and "citation" in kinds
    assert kinds.index("citation") > max(i for i, k in enumerate(kinds) if k == "token")
    assert events[0].data["sources"]
    tokens = "".join(e.data["text"] for e in events if e.event == "token")
    assert "$13 billion" in tokens
    answer = events[-1].data["answer"]
    citations = [e.data["citation"] for e in events if e.event == "citation"]
    assert citations == answer["citations"]
    assert_answer_valid(answer, client, sample_api)
    # The streamed answer is the same as the one-shot answer (extractive mode is deterministic).
    once = client.post(f"{sample_api}/v1/ask", json={"question": MICROSOFT}).json()
    assert once["answer"] == answer["answer"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": "hello", "k": 0}, "k"),
        ({"question": "hello", "k": 51}, "k"),
        ({"question": "hello", "filters": {"since": "not a date"}}, "filters.since"),
        ({"question": "hello", "filters": {"since": "2025-01-02", "until": "2025-01-01"}}, "filters.since"),
        ({"question": "hello", "as_of": "99999"}, "as_of"),
        ({"question": "hello", "history": [{"role": "robot", "content": "x"}]}, "history.0.role"),
        ({"question": "hello", "surprise": 1}, "surprise"),
        ({}, "question"),
    ],
)
def test_invalid_requests_are_422_with_the_field(sample_api: str, client: httpx.Client, body: dict, field: str) -> None:
    for path in ("/v1/ask", "/v1/ask/stream"):
        response = client.post(f"{sample_api}{path}", json=body)
        assert response.status_code == 422, (path, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_input"
        assert error["field"] == field, error


def test_malformed_json_and_unknown_routes_use_the_error_shape(sample_api: str, client: httpx.Client) -> None:
    response = client.post(f"{sample_api}/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "invalid_input"
    response = client.get(f"{sample_api}/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "not_found", "message": "Not Found"}}
    response = client.put(f"{sample_api}/v1/ask", json={})
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"


def test_follow_up_uses_history(sample_api: str, client: httpx.Client) -> None:
    body = {
        "question": "Who beat them?",
        "history": [
            {"role": "user", "content": "Did the Kansas City Chiefs win Super Bowl LIX?"},
            {"role": "assistant", "content": "No, they lost Super Bowl LIX."},
        ],
    }
    answer = client.post(f"{sample_api}/v1/ask", json=body).json()
    assert answer["standalone_question"]
    assert "Eagles" in answer["answer"]
    assert_answer_valid(answer, client, sample_api)


def test_health_ready_and_metrics(sample_api: str, client: httpx.Client) -> None:
    assert client.get(f"{sample_api}/healthz").json() == {"status": "ok"}
    ready = client.get(f"{sample_api}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["store"]["ok"] is True
    assert "llm" not in ready.json()["checks"]
    client.post(f"{sample_api}/v1/ask", json={"question": MICROSOFT})
    text = client.get(f"{sample_api}/metrics").text
    assert 'newsrag_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert "newsrag_http_request_duration_seconds_bucket" in text
    assert 'newsrag_answers_total{mode="extractive",refused="false"}' in text


def test_docs_and_openapi_describe_every_field(sample_api: str, client: httpx.Client) -> None:
    assert client.get(f"{sample_api}/docs").status_code == 200
    spec = client.get(f"{sample_api}/openapi.json").json()
    for path in (
        "/v1/ask",
        "/v1/ask/stream",
        "/v1/chat/completions",
        "/v1/models",
        "/v1/articles",
        "/v1/articles/{article_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in spec["paths"], path
    undocumented = [
        f"{name}.{field}"
        for name, schema in spec["components"]["schemas"].items()
        if not name.startswith(("HTTPValidationError", "ValidationError"))
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert not undocumented, undocumented


def test_chat_page_is_served(sample_api: str, client: httpx.Client) -> None:
    page = client.get(f"{sample_api}/")
    assert page.status_code == 200 and "newsrag" in page.text
    assert client.get(f"{sample_api}/static/app.js").status_code == 200
    info = client.get(f"{sample_api}/v1/sources").json()
    assert info["articles"] > 0 and any(s["name"] == "Tech Times" for s in info["sources"])
