"""The fetcher against a real HTTP server on loopback: limits, robots.txt, retries, redirects, the
SSRF guard and conditional GET."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.fetch import Fetcher, FetchFailed, FetchPolicy, UnsafeURL, check_url, public_addresses, retry_after
from ingest.state import SqliteWebState
from tests.support.news_site import NewsSite


def test_a_page_and_the_user_agent(site: NewsSite, policy: FetchPolicy) -> None:
    with Fetcher(policy) as fetcher:
        fetched = fetcher.fetch(site.url + "/story-1")
    assert fetched.status == 200 and fetched.content_type == "text/html" and fetched.charset == "utf-8"
    assert b"FULLTEXT-1-v1" in fetched.body
    assert {s.headers["user-agent"] for s in site.log} == {"newsrag-test/1"}
    assert [s.path for s in site.log] == ["/robots.txt", "/story-1"]  # robots.txt first, once per origin


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "HTTP 404"),
        ("/slow", "timed out after 1s"),
        ("/big.bin", "content type 'application/octet-stream' is not a page, feed or sitemap"),
        ("/big.html", "over the limit of 1,000,000"),
        ("/image.png", "content type 'image/png'"),
        ("/private/story", "disallowed by"),
    ],
)
def test_failures_name_the_url_and_the_reason(site: NewsSite, policy: FetchPolicy, path: str, reason: str) -> None:
    with Fetcher(policy) as fetcher, pytest.raises(FetchFailed) as failed:
        fetcher.fetch(site.url + path)
    assert failed.value.message.startswith(site.url + path)
    assert reason in failed.value.message
    if path == "/private/story":  # robots.txt forbids it: the page itself is never requested
        assert not site.requests_for(path)


def test_retries_a_503_after_its_retry_after(site: NewsSite, policy: FetchPolicy) -> None:
    with Fetcher(policy) as fetcher:
        fetched = fetcher.fetch(site.url + "/flaky")
        assert fetcher.stats.retries == 1
    assert b"FULLTEXT-42" in fetched.body
    assert [s.status for s in site.requests_for("/flaky")] == [503, 200]


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: at once
    assert retry_after(None) is None and retry_after("soon") is None


def test_redirects_are_followed_and_recorded(site: NewsSite, policy: FetchPolicy) -> None:
    with Fetcher(policy) as fetcher:
        fetched = fetcher.fetch(site.url + "/moved")
    assert fetched.url == site.url + "/moved"
    assert fetched.final_url == site.url + "/landed"
    assert fetched.redirects == (site.url + "/moved",)


def test_per_host_concurrency_is_capped(site: NewsSite, policy: FetchPolicy) -> None:
    with Fetcher(replace(policy, per_host_concurrency=2)) as fetcher:
        fetcher.fetch(site.url + "/pause-0")  # robots.txt read before the burst
        threads = [threading.Thread(target=fetcher.fetch, args=(f"{site.url}/pause-{i}",)) for i in range(1, 7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(site.requests_for("/pause-3")) == 1
    assert site.max_in_flight == 2


def test_conditional_get_after_commit_only(site: NewsSite, policy: FetchPolicy, tmp_path: Path) -> None:
    with SqliteWebState(tmp_path / "web.sqlite3", "gen-1") as state:
        with Fetcher(policy, state.cache) as fetcher:
            assert fetcher.fetch(site.url + "/feed.xml").status == 200
        with Fetcher(policy, state.cache) as fetcher:  # nothing committed (say the ingest crashed): full GET
            assert fetcher.fetch(site.url + "/feed.xml").status == 200
            fetcher.commit()
        with Fetcher(policy, state.cache) as fetcher:
            again = fetcher.fetch(site.url + "/feed.xml")
            assert again.not_modified and again.body == b""
            assert (fetcher.stats.conditional, fetcher.stats.not_modified) == (1, 1)
    feeds = site.requests_for("/feed.xml")
    assert [(s.status, s.conditional) for s in feeds] == [(200, False), (200, False), (304, True)]
    assert feeds[2].headers["if-none-match"].startswith('"')
    assert "if-modified-since" in feeds[2].headers
    with SqliteWebState(tmp_path / "web.sqlite3", "gen-2") as state:  # another catalog: validators forgotten
        assert state.cache.get(site.url + "/feed.xml") is None


def test_private_addresses_refused_by_default(site: NewsSite, policy: FetchPolicy) -> None:
    guarded = replace(policy, allow_private=False)
    with Fetcher(guarded) as fetcher, pytest.raises(UnsafeURL) as refused:
        fetcher.fetch(site.url + "/feed.xml")
    assert "resolves to 127.0.0.1" in refused.value.message
    assert "NEWSRAG_FETCH_ALLOW_PRIVATE" in refused.value.message
    assert site.log == []  # not even robots.txt was requested
    with pytest.raises(UnsafeURL):
        check_url(site.url + "/feed.xml", allow_private=False)
    assert check_url(site.url + "/feed.xml", allow_private=True) == site.url + "/feed.xml"


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]
)
def test_non_public_ipv4_addresses_are_unsafe(address: str) -> None:
    with pytest.raises(UnsafeURL):
        public_addresses(address, 80)


@pytest.mark.parametrize("address", ["::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:169.254.169.254"])
def test_non_public_ipv6_addresses_are_unsafe(address: str) -> None:
    with pytest.raises(UnsafeURL):
        public_addresses(address, 80)


def test_public_literal_addresses_pass() -> None:
    assert public_addresses("93.184.215.14", 443) == ["93.184.215.14"]  # a literal: no DNS lookup, no traffic


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd", "gopher://x", "http:///nohost"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=True)
