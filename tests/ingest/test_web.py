"""URLs to articles over real HTTP: feeds (summaries followed to the page, full content kept), news
sitemaps and indexes, JSON-LD pages, redirects, retention, and what a failure looks like."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.fetch import Fetched, Fetcher, FetchPolicy
from ingest.loaders import LoadedItem, load
from ingest.state import SqliteWebState
from ingest.web import WebLoader, WebOptions, recognise
from rag.errors import ArticleInvalid
from rag.models import Article
from tests.support.news_site import NewsSite


def articles(items: list[LoadedItem]) -> list[Article]:
    assert all(i.error is None for i in items), [i.error for i in items if i.error]
    return [i.article for i in items if i.article is not None]


def load_url(policy: FetchPolicy, url: str, options: WebOptions | None = None) -> tuple[list[LoadedItem], WebLoader]:
    with Fetcher(policy) as fetcher:
        loader = WebLoader(fetcher, options)
        return list(loader.load(url)), loader


def test_summary_feed_followed_to_the_full_pages(site: NewsSite, policy: FetchPolicy) -> None:
    items, loader = load_url(policy, site.url + "/feed.xml")
    found = articles(items)
    assert [a.title for a in found] == [f"Story {n} about the city" for n in (1, 2, 3)]
    for n, article in enumerate(found, start=1):
        assert article.body.startswith(f"FULLTEXT-{n}-v1")  # the page's text, not the feed's summary
        assert "Summary" not in article.body and "Home" not in article.body  # no teaser, no navigation
        assert article.published_at == datetime(2025, 12, n, 9, 0, tzinfo=UTC)  # the page has none: the feed's
        assert article.source == "Loopback Gazette"
        assert article.url == f"{site.url}/story-{n}"
    assert loader.tally.kinds == {site.url + "/feed.xml": "feed"}
    assert sorted(s.path for s in site.log) == ["/feed.xml", "/robots.txt", "/story-1", "/story-2", "/story-3"]


def test_summary_only_keeps_the_feed_text(site: NewsSite, policy: FetchPolicy) -> None:
    items, _ = load_url(policy, site.url + "/feed.xml", WebOptions(follow_links=False))
    assert [a.body for a in articles(items)] == [f"Summary {n}: a short teaser only." for n in (1, 2, 3)]
    assert not any(s.path.startswith("/story-") for s in site.log)


def test_atom_full_content_needs_no_page(site: NewsSite, policy: FetchPolicy) -> None:
    items, _ = load_url(policy, site.url + "/atom.xml")
    found = articles(items)
    assert [a.title for a in found] == ["Atom story 11", "Atom story 12"]
    assert found[0].body.startswith("FULLTEXT-11-v1") and found[0].author == "Atom Writer"
    assert found[0].updated_at == datetime(2025, 11, 11, 10, 0, tzinfo=UTC)
    assert [s.path for s in site.log] == ["/robots.txt", "/atom.xml"]


@pytest.mark.parametrize("path", ["/news-sitemap.xml", "/sitemap-index.xml"])
def test_news_sitemap_and_index(site: NewsSite, policy: FetchPolicy, path: str) -> None:
    items, loader = load_url(policy, site.url + path)
    found = articles(items)
    assert [a.title for a in found] == ["Sitemap story 21", "Sitemap story 22"]  # news:title (the page has none)
    assert [a.published_at for a in found] == [
        datetime(2025, 10, 1, 8, 30, tzinfo=UTC),
        datetime(2025, 10, 2, 8, 30, tzinfo=UTC),
    ]
    assert {a.source for a in found} == {"Sitemap Post"}
    assert found[0].body.startswith("FULLTEXT-21-v1")
    assert loader.tally.kinds[site.url + path] == ("sitemap" if "news" in path else "sitemap_index")


def test_sitemap_entries_unchanged_since_the_last_fetch_cost_no_request(
    site: NewsSite, policy: FetchPolicy, tmp_path: Path
) -> None:
    with SqliteWebState(tmp_path / "web.sqlite3", "g") as state:
        with Fetcher(policy, state.cache) as fetcher:
            assert len(articles(list(WebLoader(fetcher).load(site.url + "/news-sitemap.xml")))) == 2
            fetcher.commit()
        site.clear_log()
        with Fetcher(policy, state.cache) as fetcher:
            loader = WebLoader(fetcher)
            assert list(loader.load(site.url + "/news-sitemap.xml")) == []
    assert loader.tally.not_modified == 1  # the sitemap itself: 304; its pages' lastmod precede our fetch
    assert [(s.path, s.status) for s in site.log] == [("/robots.txt", 200), ("/news-sitemap.xml", 304)]


def test_json_ld_news_article_is_preferred(site: NewsSite, policy: FetchPolicy) -> None:
    items, _ = load_url(policy, site.url + "/ld-story")
    (article,) = articles(items)
    assert article.title == "Harbour plan approved after long night"  # headline, not <title>
    assert article.source == "JSON-LD Daily"  # publisher.name, not og:site_name
    assert article.author == "Ada Reporter, Bo Editor"
    assert article.published_at == datetime(2025, 11, 20, 6, 15, tzinfo=UTC)  # not the meta tag's 2020
    assert article.updated_at == datetime(2025, 11, 21, 17, 0, tzinfo=UTC)
    assert article.body.startswith("FULLTEXT-30-v1")


def test_redirect_keeps_the_original_as_another_url(site: NewsSite, policy: FetchPolicy) -> None:
    items, _ = load_url(policy, site.url + "/moved")
    (article,) = articles(items)
    assert article.url == site.url + "/landed"
    assert article.alt_urls == (site.url + "/moved",)


def test_retention_skips_old_entries_unfetched(site: NewsSite, policy: FetchPolicy) -> None:
    options = WebOptions(not_before=datetime(2025, 12, 2, tzinfo=UTC))
    items, loader = load_url(policy, site.url + "/feed.xml", options)
    assert [a.title for a in articles(items)] == ["Story 2 about the city", "Story 3 about the city"]
    assert loader.tally.skipped_old == 1
    assert not site.requests_for("/story-1")


@pytest.mark.parametrize(
    ("path", "error"),
    [("/missing", "HTTP 404 Not Found"), ("/slow", "timed out after 1s"), ("/big.bin", "content type")],
)
def test_a_failing_url_is_one_failed_item(site: NewsSite, policy: FetchPolicy, path: str, error: str) -> None:
    items, loader = load_url(policy, site.url + path)
    assert len(items) == 1 and items[0].article is None
    assert items[0].path == site.url + path and error in (items[0].error or "")
    assert loader.tally.root_error == items[0].error


def test_a_failing_page_of_a_feed_fails_alone(site: NewsSite, policy: FetchPolicy) -> None:
    items, loader = load_url(policy, site.url + "/mixed-feed.xml")
    assert [i.article.title for i in items if i.article] == ["Story 1 about the city"]
    failed = [(i.path, i.item, i.error) for i in items if i.article is None]
    feed = site.url + "/mixed-feed.xml"
    assert failed == [
        (feed, f"entry 2 ({site.url}/missing)", "HTTP 404 Not Found"),
        (feed, f"entry 3 ({site.url}/private/story)", f"disallowed by {site.url}/robots.txt"),
    ]
    assert loader.tally.root_error is None  # the feed itself is fine


def _fetched(content_type: str, body: bytes) -> Fetched:
    return Fetched("http://x/", "http://x/", 200, content_type, body)


def test_recognised_by_content_before_type() -> None:
    rss = b"<?xml version='1.0'?>\n<!-- generated --><rss version='2.0'><channel></channel></rss>"
    assert recognise(_fetched("text/html", rss), 10_000)[0] == "feed"  # a feed served as HTML
    assert recognise(_fetched("text/plain", b"<urlset xmlns='x'></urlset>"), 10_000)[0] == "sitemap"
    assert recognise(_fetched("", b"<!DOCTYPE html><html><body>x</body></html>"), 10_000)[0] == "page"
    with pytest.raises(ArticleInvalid, match="root <svg>"):
        recognise(_fetched("application/xml", b"<svg></svg>"), 10_000)
    with pytest.raises(ArticleInvalid, match="not an HTML page"):
        recognise(_fetched("text/plain", b"just words"), 10_000)


def test_gzipped_sitemap_is_read_within_the_limit() -> None:
    import gzip

    body = gzip.compress(b"<urlset xmlns='x'>" + b" " * 5_000 + b"</urlset>")
    assert recognise(_fetched("application/gzip", body), 10_000)[0] == "sitemap"
    with pytest.raises(ArticleInvalid, match="decompressed"):
        recognise(_fetched("application/gzip", body), 1_000)


def test_html_files_still_load_with_json_ld(tmp_path: Path) -> None:
    page = tmp_path / "story.html"
    page.write_text(
        '<html><head><script type=\'application/ld+json\'>{"@type": "NewsArticle", "headline": "From LD", '
        '"datePublished": "2025-01-02T03:04:05Z", "publisher": {"name": "LD Outlet"}}</script></head>'
        "<body><article><p>" + "A sentence of the article body that is long enough to keep. " * 8 + "</p>"
        "</article></body></html>"
    )
    (item,) = list(load(page))
    assert item.article is not None, item.error
    assert (item.article.title, item.article.source) == ("From LD", "LD Outlet")
    assert item.article.published_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
