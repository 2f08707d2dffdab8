"""/v1/articles (ingest with per-item results, list, get, delete), then asking about what was ingested;
API keys; body and batch limits."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.embeddings import Embedder
from rag.settings import Settings
from tests.api.conftest import assert_answer_valid, serving

pytestmark = pytest.mark.integration

ARTICLES = [
    {
        "title": "Volcano eruption closes airport in Ashford",
        "text": "The Ashford airport was closed on Tuesday after the Mount Grey volcano erupted, sending ash "
        "four kilometres into the sky. Officials said flights would resume on Friday at the earliest.",
        "link": "https://example.test/news/volcano?utm_source=feed",
        "outlet": "Ashford Gazette",
        "date": "2025-06-03T08:00:00Z",
        "tags": "volcano, travel",
    },
    {
        "title": "Ashford airport reopens",
        "body": "Ashford airport reopened on Friday after the ash cloud from Mount Grey drifted east, "
        "the operator said. About 300 flights had been cancelled.",
        "url": "https://example.test/news/airport-reopens",
        "source": "Coast Wire",
        "published_at": "2025-06-06",
    },
    {"title": "No body here", "url": "https://example.test/empty"},
    {"title": "Bad date", "body": "Some text.", "published_at": "the day after tomorrow, maybe"},
    {"title": "Bad url", "body": "Some text.", "url": "ftp://example.test/x"},
]


@pytest.fixture
def fresh_api(tmp_path: Path, embedder: Embedder) -> Iterator[str]:
    with serving(
        Settings(_env_file=None, data_dir=tmp_path / "data", max_body_bytes=20_000, max_articles_per_request=10),
        embedder,
    ) as url:
        yield url


def test_ingest_then_ask(fresh_api: str, client: httpx.Client) -> None:
    empty = client.post(f"{fresh_api}/v1/ask", json={"question": "Why did the Ashford airport close?"}).json()
    assert empty["refused"] and empty["refusal_reason"] == "empty_store"

    response = client.post(f"{fresh_api}/v1/articles", json=ARTICLES)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["added"], report["failed"]) == (2, 3)
    items = report["items"]
    assert [i["ok"] for i in items] == [True, True, False, False, False]
    assert [i["field"] for i in items[2:]] == ["body", "published_at", "url"]
    assert all(i["error"] for i in items[2:]) and items[0]["id"] and items[1]["id"]

    again = client.post(f"{fresh_api}/v1/articles", json=ARTICLES[:2]).json()
    assert (again["added"], again["unchanged"]) == (0, 2)

    answer = client.post(f"{fresh_api}/v1/ask", json={"question": "Why did the Ashford airport close?"}).json()
    assert not answer["refused"], answer
    assert "volcano" in answer["answer"].lower()
    gazette = [c for c in answer["citations"] if c["source"] == "Ashford Gazette"]
    assert gazette and gazette[0]["url"] == "https://example.test/news/volcano?utm_source=feed"  # as given
    assert_answer_valid(answer, client, fresh_api)

    # A newly ingested outlet is recognised in questions at once (the retriever's outlet list is refreshed).
    named = client.post(f"{fresh_api}/v1/ask", json={"question": "What did Coast Wire report about Ashford airport?"})
    assert named.json()["sources"][0]["source"] == "Coast Wire"


def test_list_get_delete(fresh_api: str, client: httpx.Client) -> None:
    ids = [i["id"] for i in client.post(f"{fresh_api}/v1/articles", json=ARTICLES[:2]).json()["items"]]

    page = client.get(f"{fresh_api}/v1/articles").json()
    assert page["total"] == 2 and [a["id"] for a in page["items"]] == [ids[1], ids[0]]  # newest first
    assert "body" not in page["items"][0]
    page = client.get(f"{fresh_api}/v1/articles", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [a["id"] for a in page["items"]] == [ids[0]]
    page = client.get(f"{fresh_api}/v1/articles", params={"sources": "coast wire"}).json()
    assert [a["id"] for a in page["items"]] == [ids[1]]
    page = client.get(f"{fresh_api}/v1/articles", params={"since": "2025-06-04"}).json()
    assert [a["id"] for a in page["items"]] == [ids[1]]
    page = client.get(f"{fresh_api}/v1/articles", params={"until": "2025-06-03"}).json()
    assert [a["id"] for a in page["items"]] == [ids[0]]
    bad = client.get(f"{fresh_api}/v1/articles", params={"since": "soon"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "since"
    assert client.get(f"{fresh_api}/v1/articles", params={"limit": 0}).status_code == 422

    article = client.get(f"{fresh_api}/v1/articles/{ids[0]}").json()
    assert article["source"] == "Ashford Gazette" and article["tags"] == ["volcano", "travel"]
    assert article["body"].startswith("The Ashford airport was closed")

    assert client.delete(f"{fresh_api}/v1/articles/{ids[0]}").json() == {"deleted": ids[0]}
    missing = client.get(f"{fresh_api}/v1/articles/{ids[0]}")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"type": "not_found", "message": f"no article with id {ids[0]!r}"}
    assert client.delete(f"{fresh_api}/v1/articles/{ids[0]}").status_code == 404
    assert client.get(f"{fresh_api}/v1/articles").json()["total"] == 1
    answer = client.post(f"{fresh_api}/v1/ask", json={"question": "Why did the Ashford airport close?"}).json()
    assert all(c["article_id"] != ids[0] for c in answer["citations"])


def test_body_and_batch_limits(fresh_api: str, client: httpx.Client) -> None:
    big = [{"title": "Big", "body": "word " * 5000}]
    response = client.post(f"{fresh_api}/v1/articles", json=big)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"

    # Chunked upload with no Content-Length: the bytes are counted as they arrive.
    def chunks() -> Iterator[bytes]:
        yield b'[{"title": "Big", "body": "'
        for _ in range(50):
            yield b"x" * 1000
        yield b'"}]'

    response = client.post(f"{fresh_api}/v1/articles", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"

    # A lying Content-Length (larger than the limit) is refused before the body is read.
    host, port = fresh_api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{"
        )
        head = sock.recv(4096).decode()
    assert head.startswith("HTTP/1.1 413")

    many = [{"title": f"t{i}", "body": "b"} for i in range(11)]
    response = client.post(f"{fresh_api}/v1/articles", json=many)
    assert response.status_code == 413 and "limit is 10" in response.json()["error"]["message"]
    assert client.get(f"{fresh_api}/healthz").status_code == 200


def test_api_keys(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", api_keys=["reader-key"], admin_keys=["admin-key"])
    with serving(settings, embedder) as base, httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        for path in ("/healthz", "/readyz", "/metrics", "/", "/openapi.json"):
            assert c.get(path).status_code == 200, path

        no_key = c.post("/v1/ask", json={"question": "anything"})
        assert no_key.status_code == 401 and no_key.json()["error"]["type"] == "unauthorized"
        assert no_key.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/articles").status_code == 401
        assert c.get("/v1/models").status_code == 401
        wrong = c.post("/v1/ask", json={"question": "anything"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        reader = {"Authorization": "Bearer reader-key"}
        assert c.post("/v1/ask", json={"question": "anything"}, headers=reader).status_code == 200
        assert c.get("/v1/articles", headers={"X-API-Key": "reader-key"}).status_code == 200
        write = c.post("/v1/articles", json=ARTICLES[:1], headers=reader)
        assert write.status_code == 403 and write.json()["error"]["type"] == "forbidden"
        assert c.delete("/v1/articles/x", headers=reader).status_code == 403
        assert c.post("/v1/articles", json=ARTICLES[:1]).status_code == 401

        admin = {"X-API-Key": "admin-key"}
        assert c.post("/v1/articles", json=ARTICLES[:1], headers=admin).json()["added"] == 1
        assert c.get("/v1/articles", headers=admin).json()["total"] == 1
        assert c.delete("/v1/articles/unknown", headers=admin).status_code == 404


def test_cors(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", cors_origins=["https://chat.example"])
    with serving(settings, embedder) as base, httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        preflight = c.options(
            "/v1/chat/completions",
            headers={
                "Origin": "https://chat.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os,x-stainless-retry-count",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://chat.example"
        allowed = {h.strip() for h in preflight.headers["access-control-allow-headers"].lower().split(",")}
        assert {"authorization", "content-type", "x-stainless-os", "x-stainless-retry-count"} <= allowed
        other = c.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
