"""The issue's "done when", as a user runs it: `newsrag sources add` a feed on a loopback news site,
`newsrag watch --once` ingests its articles with the full text of the linked pages, a second run changes
nothing and asks conditionally, and without NEWSRAG_FETCH_ALLOW_PRIVATE the URL is refused (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.catalog import ArticleFilter, Catalog
from rag.settings import Settings
from tests.ingest.helpers import cli_json, run_cli
from tests.support.news_site import NewsSite

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALLOW = {"NEWSRAG_FETCH_ALLOW_PRIVATE": "true", "NEWSRAG_FETCH_PER_HOST_DELAY": "0"}


def stored_bodies(data: Path) -> dict[str, str]:
    catalog = Catalog(Settings(_env_file=None, data_dir=data).catalog_path)
    try:
        return {a.title: a.body for a in catalog.list(ArticleFilter())}
    finally:
        catalog.close()


def test_sources_add_watch_once_and_again(site: NewsSite, tmp_path: Path) -> None:
    data = tmp_path / "data"
    feed = site.url + "/feed.xml"
    added = cli_json(["sources", "add", feed, "--every", "15m", "--name", "Gazette"], data, **ALLOW)
    assert (added["url"], added["every_seconds"], added["status"]) == (feed, 900, "never")

    (first,) = cli_json(["watch", "--once"], data, **ALLOW)
    assert first["result"]["status"] == "ok"
    assert (first["result"]["added"], first["result"]["failed"]) == (3, 0)
    bodies = stored_bodies(data)
    assert sorted(bodies) == [f"Story {n} about the city" for n in (1, 2, 3)]
    for n in (1, 2, 3):  # the linked page's full text, not the feed's summary
        body = bodies[f"Story {n} about the city"]
        assert body.startswith(f"FULLTEXT-{n}-v1") and "Summary" not in body
    before = cli_json(["status"], data)

    site.clear_log()
    (second,) = cli_json(["watch", "--once"], data, **ALLOW)
    assert second["result"]["status"] == "not_modified"
    assert [second["result"][k] for k in ("added", "updated", "unchanged", "failed")] == [0, 0, 0, 0]
    feed_requests = site.requests_for("/feed.xml")
    assert [(s.status, s.conditional) for s in feed_requests] == [(304, True)]
    assert not any(s.path.startswith("/story-") for s in site.log)
    after = cli_json(["status"], data)
    assert (after["articles"], after["chunks"]) == (before["articles"], before["chunks"]) == (3, before["chunks"])

    (listed,) = cli_json(["sources", "list"], data)
    assert (listed["name"], listed["status"], listed["articles_added"], listed["last_error"]) == (
        "Gazette",
        "not_modified",
        3,
        None,
    )
    assert listed["last_fetch_at"] is not None

    refused = run_cli(["ingest", feed], data)  # no NEWSRAG_FETCH_ALLOW_PRIVATE
    assert refused.returncode == 1, refused.stderr
    assert "refusing to fetch from '127.0.0.1'" in refused.stderr
    assert "NEWSRAG_FETCH_ALLOW_PRIVATE=true" in refused.stderr
    assert not site.requests_for("/robots.txt")[1:]  # nothing was sent: only the watch runs' robots.txt
    assert len(site.requests_for("/feed.xml")) == 1


def test_ingest_urls_prune_and_remove(site: NewsSite, tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = cli_json(["ingest", site.url + "/atom.xml", site.url + "/missing"], data, expect=1, **ALLOW)
    assert (summary["added"], len(summary["failed"])) == (2, 1)
    assert summary["failed"][0] == {"path": site.url + "/missing", "item": None, "error": "HTTP 404 Not Found"}
    assert [u["status"] for u in summary["urls"]] == ["ok", "error"]

    summary_only = cli_json(["ingest", "--summary-only", site.url + "/feed.xml"], data, **ALLOW)
    assert summary_only["added"] == 3 and not any(s.path.startswith("/story-") for s in site.log)
    assert stored_bodies(data)["Story 1 about the city"] == "Summary 1: a short teaser only."

    pruned = cli_json(["articles", "prune", "--before", "2025-12-02"], data)
    assert pruned["pruned"] == 3  # the two Atom stories (November) and story 1 (Dec 1)
    assert sorted(stored_bodies(data)) == ["Story 2 about the city", "Story 3 about the city"]
    no_date = run_cli(["articles", "prune"], data)
    assert no_date.returncode == 2 and "NEWSRAG_RETENTION_DAYS" in no_date.stderr

    assert run_cli(["sources", "add", site.url + "/feed.xml", "--every", "10s"], data, **ALLOW).returncode == 2
    private = run_cli(["sources", "add", site.url + "/feed.xml"], data)
    assert private.returncode == 2 and "refusing to fetch" in private.stderr
    assert run_cli(["sources", "add", site.url + "/feed.xml"], data, **ALLOW).returncode == 0
    assert run_cli(["sources", "remove", site.url + "/feed.xml"], data).returncode == 0
    assert run_cli(["sources", "remove", site.url + "/feed.xml"], data).returncode == 1
    assert cli_json(["sources", "list"], data) == []
