"""Live news over the HTTP API: URLs posted to /v1/articles (per-item results, a job for large batches),
watched sources (POST/DELETE /v1/sources, listed in GET /v1/sources), keys, the SSRF guard, and the
poller running inside the server (`serve --watch`). A real uvicorn and a real news site on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.routes.sources import with_watcher
from rag.embeddings import Embedder
from rag.settings import Settings
from tests.api.conftest import serving
from tests.support.news_site import NewsSite, news_site
from tests.support.servers import UvicornThread

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with news_site() as running:
        yield running


def live_settings(tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "fetch_allow_private": True,
        "fetch_per_host_delay": 0.0,
        "fetch_timeout": 1.0,
        **extra,
    }
    return Settings(_env_file=None, **values)


def wait_for(predicate: Any, seconds: float = 120.0) -> None:
    """Poll until true (a wait, not a timed assertion: the deadline only stops a hung test)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)


def test_urls_in_one_request_and_as_a_job(site: NewsSite, tmp_path: Path, embedder: Embedder) -> None:
    with serving(live_settings(tmp_path), embedder) as base, httpx.Client(base_url=base, timeout=60) as c:
        response = c.post("/v1/articles", json={"urls": [site.url + "/mixed-feed.xml", site.url + "/ld-story"]})
        assert response.status_code == 200, response.text
        result = response.json()
        assert (result["added"], result["failed"]) == (2, 2)
        assert [(u["url"].rsplit("/", 1)[1], u["status"]) for u in result["urls"]] == [
            ("mixed-feed.xml", "partial"),
            ("ld-story", "ok"),
        ]
        items = {(i["item"] or i["url"]): i for i in result["items"]}
        assert items[f"entry 2 ({site.url}/missing)"]["error"] == "HTTP 404 Not Found"
        ld = items[site.url + "/ld-story"]
        assert ld["ok"] and ld["id"]
        article = c.get(f"/v1/articles/{ld['id']}").json()
        assert (article["title"], article["source"]) == ("Harbour plan approved after long night", "JSON-LD Daily")

        urls = [site.url + p for p in ("/feed.xml", "/atom.xml", "/news-sitemap.xml", "/moved", "/flaky", "/slow")]
        queued = c.post("/v1/articles", json={"urls": urls})
        assert queued.status_code == 202, queued.text
        job = queued.json()
        assert queued.headers["location"] == f"/v1/jobs/{job['id']}" and job["urls"] == 6
        wait_for(lambda: c.get(f"/v1/jobs/{job['id']}").json()["status"] in ("done", "failed"))
        done = c.get(f"/v1/jobs/{job['id']}").json()
        assert done["status"] == "done" and done["done_urls"] == 6
        # story 1 came in with the mixed feed: its page answers 304 now, the other two are new
        assert done["result"]["added"] == 2 + 2 + 2 + 1 + 1
        assert done["result"]["urls"][0]["not_modified"] == 1
        assert [u["status"] for u in done["result"]["urls"]] == ["ok", "ok", "ok", "ok", "ok", "error"]
        assert "timed out" in done["result"]["urls"][5]["error"]
        assert c.get("/v1/jobs/nope").status_code == 404

        again = c.post("/v1/articles", json={"urls": [site.url + "/feed.xml"]}).json()
        assert again["urls"][0]["status"] == "not_modified" and again["added"] == 0


def test_private_urls_refused_without_the_setting(site: NewsSite, tmp_path: Path, embedder: Embedder) -> None:
    settings = live_settings(tmp_path, fetch_allow_private=False)
    with serving(settings, embedder) as base, httpx.Client(base_url=base, timeout=60) as c:
        for response in (
            c.post("/v1/articles", json={"urls": [site.url + "/feed.xml"]}),
            c.post("/v1/sources", json={"url": site.url + "/feed.xml"}),
            c.post("/v1/sources", json={"url": "http://169.254.169.254/latest/meta-data/"}),
        ):
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["type"] == "unsafe_url" and "NEWSRAG_FETCH_ALLOW_PRIVATE" in error["message"]
        bad = c.post("/v1/sources", json={"url": "file:///etc/passwd"})
        assert bad.status_code == 422 and "only http and https" in bad.json()["error"]["message"]
    assert site.log == []


def test_sources_crud_and_keys(site: NewsSite, tmp_path: Path, embedder: Embedder) -> None:
    settings = live_settings(tmp_path, api_keys=["reader-key"], admin_keys=["admin-key"])
    feed = site.url + "/feed.xml"
    with serving(settings, embedder) as base, httpx.Client(base_url=base, timeout=60) as c:
        admin, reader = {"X-API-Key": "admin-key"}, {"X-API-Key": "reader-key"}
        assert c.post("/v1/sources", json={"url": feed}).status_code == 401
        assert c.post("/v1/sources", json={"url": feed}, headers=reader).status_code == 403
        created = c.post("/v1/sources", json={"url": feed, "every": "2h", "name": "Gazette"}, headers=admin)
        assert created.status_code == 201, created.text
        assert (created.json()["every_seconds"], created.json()["status"]) == (7200, "never")
        assert c.post("/v1/sources", json={"url": feed, "every": "5s"}, headers=admin).status_code == 422
        watched = c.get("/v1/sources", headers=reader).json()["watched"]
        assert [(w["url"], w["name"]) for w in watched] == [(feed, "Gazette")]
        assert c.delete("/v1/sources", params={"url": feed}, headers=reader).status_code == 403
        assert c.delete("/v1/sources", params={"url": feed}, headers=admin).json() == {"deleted": feed}
        assert c.delete("/v1/sources", params={"url": feed}, headers=admin).status_code == 404
        assert c.get("/v1/sources", headers=reader).json()["watched"] == []

    readers_only = live_settings(tmp_path / "b", api_keys=["reader-key"])
    with serving(readers_only, embedder) as base, httpx.Client(base_url=base, timeout=60) as c:
        refused = c.post("/v1/sources", json={"url": feed}, headers={"X-API-Key": "reader-key"})
        assert refused.status_code == 403 and "admin key" in refused.json()["error"]["message"]


@contextmanager
def watching_server(settings: Settings, embedder: Embedder) -> Iterator[str]:
    server = UvicornThread(with_watcher(create_app(settings, embedder)), lifespan="on", graceful_timeout=2)
    server.start(timeout=60)
    try:
        yield server.url
    finally:
        server.stop()


def test_serve_watch_polls_inside_the_server(site: NewsSite, tmp_path: Path, embedder: Embedder) -> None:
    with watching_server(live_settings(tmp_path), embedder) as base, httpx.Client(base_url=base, timeout=60) as c:
        assert c.post("/v1/sources", json={"url": site.url + "/missing"}).status_code == 201
        assert c.post("/v1/sources", json={"url": site.url + "/feed.xml"}).status_code == 201

        def polled() -> bool:
            return all(w["status"] != "never" for w in c.get("/v1/sources").json()["watched"])

        wait_for(polled)
        watched = {w["url"]: w for w in c.get("/v1/sources").json()["watched"]}
        assert watched[site.url + "/missing"]["status"] == "error"
        assert watched[site.url + "/missing"]["last_error"] == "HTTP 404 Not Found"
        assert watched[site.url + "/feed.xml"]["articles_added"] == 3
        assert c.get("/v1/articles").json()["total"] == 3
        answer = c.post("/v1/ask", json={"question": "What is the full report on the tram depot?"}).json()
        assert any(s["title"] == "Story 3 about the city" for s in answer["sources"])
