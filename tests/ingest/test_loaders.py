"""Loaders for every supported format, folder walking, stdin, and one clear message per bad item."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.loaders import LoadOptions, load, load_many
from ingest.loaders.html import html_to_text
from ingest.pipeline import ingest
from rag.catalog import ArticleFilter
from rag.runtime import Runtime
from tests.ingest.helpers import (
    PARAGRAPHS,
    SAMPLE_COUNT,
    SAMPLES,
    cli_json,
    load_all,
    only_article,
    write_jsonl,
)

BODY = PARAGRAPHS


def _record(n: int, **fields: object) -> dict[str, object]:
    return {"title": f"Council story {n}", "body": f"{BODY} Story number {n}.", **fields}


# ---------- JSON Lines and JSON ----------
def test_jsonl_field_aliases(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"title": "Body alias", "body": BODY, "published_at": "2024-03-01T10:00:00+02:00", "source": "A"},
            {"headline": "Text alias", "text": BODY + " Two.", "date": "2024-03-02", "outlet": "B"},
            {
                "title": "Content alias",
                "content": BODY + " Three.",
                "pubDate": "Sat, 02 Mar 2024 09:30:00 GMT",
                "publisher": "C",
            },
            {
                "title": "Source as object",
                "body": BODY + " Four.",
                "published": "2024-03-04T08:00:00Z",
                "source": {"id": "d-news", "name": "D News"},
                "url": "https://d.example/story?utm_source=x#top",
            },
        ],
    )
    items = load_all(path)
    assert [i.error for i in items] == [None] * 4
    arts = [i.article for i in items]
    assert all(a is not None for a in arts)
    a, b, c, d = arts  # type: ignore[misc]
    assert (a.title, a.source, a.body) == ("Body alias", "A", BODY)
    assert a.published_at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert (b.title, b.source) == ("Text alias", "B")
    assert b.published_at == datetime(2024, 3, 2, tzinfo=UTC)  # a bare day is taken as UTC midnight
    assert (c.title, c.source) == ("Content alias", "C")
    assert c.published_at == datetime(2024, 3, 2, 9, 30, tzinfo=UTC)
    assert d.source == "D News"
    assert d.published_at == datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    assert d.url == "https://d.example/story?utm_source=x#top"  # as given; only the id is canonical
    for art in arts:
        assert art is not None and art.published_at is not None and art.published_at.utcoffset() is not None
    # Where each came from is kept for error messages and provenance.
    assert [i.item for i in items] == ["line 1", "line 2", "line 3", "line 4"]
    assert a.origin == f"{path}:line 1"


def test_json_array_and_articles_object(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps([_record(1, source="X"), _record(2, source="Y")]))
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"status": "ok", "articles": [_record(3)]}))
    items = load_all(array)
    assert [(i.item, i.article.title if i.article else i.error) for i in items] == [
        ("item 0", "Council story 1"),
        ("item 1", "Council story 2"),
    ]
    assert only_article(load_all(wrapped)).title == "Council story 3"


def test_malformed_json_line_names_file_and_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", [_record(1), '{"title": "broken", "body": ', _record(3)])
    items = load_all(path)
    assert len(items) == 3
    bad = items[1]
    assert bad.article is None and bad.path == str(path) and bad.item == "line 2"
    assert "malformed JSON" in (bad.error or "")
    assert [i.article.title for i in (items[0], items[2]) if i.article] == [
        "Council story 1",
        "Council story 3",
    ]


def test_invalid_utf8_in_jsonl_names_the_line(tmp_path: Path) -> None:
    bad_line = b'{"title": "Bad bytes", "body": "caf\xe9 au lait and more"}'
    path = write_jsonl(tmp_path / "enc.jsonl", [_record(1), bad_line, _record(3)])
    items = load_all(path)
    assert [i.item for i in items] == ["line 1", "line 2", "line 3"]
    assert items[1].article is None and "invalid UTF-8" in (items[1].error or "")
    assert items[0].article is not None and items[2].article is not None


def test_invalid_utf8_in_text_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Title line\n\nCaf\u00e9 prices rose again this week.".encode("latin-1"))
    [item] = load_all(path)
    assert item.article is None and "invalid UTF-8" in (item.error or "")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "Empty", "body": "   "}, "empty body"),
        ({"title": "Missing body"}, "empty body"),
        ({"body": BODY}, "no title"),
        ({"title": "Bad date", "body": BODY, "published_at": "the day after the election"}, "cannot parse"),
        ({"title": "Bad url", "body": BODY, "url": "ftp://example.com/x"}, "not an http(s) URL"),
        ([1, 2, 3], "expected a JSON object"),
    ],
)
def test_validation_messages(tmp_path: Path, record: object, message: str) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [item] = load_all(path)
    assert item.article is None
    assert message in (item.error or ""), item.error
    assert item.item == "line 1" and item.path == str(path)


def test_unparseable_date_message_names_the_value(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [_record(1, date="31/31/2024 99:99")])
    [item] = load_all(path)
    assert item.error is not None and "published_at" in item.error and "31/31/2024 99:99" in item.error


def test_article_over_the_size_limit(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "big.jsonl", [_record(1, body="word " * 2000), _record(2)])
    items = load_all(path, LoadOptions(max_chars=5_000))
    assert items[0].article is None and "over the limit of 5,000" in (items[0].error or "")
    assert items[1].article is not None
    # A one-article file far over the limit is refused without being parsed.
    huge = tmp_path / "huge.md"
    huge.write_text("# Huge\n\n" + "word " * 20_000)
    [item] = load_all(huge, LoadOptions(max_chars=5_000))
    assert item.article is None and "over the article size limit" in (item.error or "")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    html = tmp_path / "page.html"
    html.write_bytes(b"\x00\x01\x02" * 100)
    for p in (path, html):
        [item] = load_all(p)
        assert item.article is None and "binary file" in (item.error or ""), item.error


# ---------- Markdown and text ----------
def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text(
        "---\n"
        'title: "Bridge repairs approved"\n'
        "source: City Gazette\n"
        "author: Ana Ruiz\n"
        "published_at: 2024-06-01T09:00:00-04:00\n"
        "url: https://gazette.example/bridges\n"
        "tags: [transport, budget]\n"
        "---\n\n"
        "The **council** approved [the plan](https://gazette.example/plan) on Tuesday.\n\n"
        "## Reaction\n\nBusiness groups were unhappy.\n"
    )
    a = only_article(load_all(path))
    assert a.title == "Bridge repairs approved"
    assert (a.source, a.author, a.url) == ("City Gazette", "Ana Ruiz", "https://gazette.example/bridges")
    assert a.published_at == datetime(2024, 6, 1, 13, 0, tzinfo=UTC)
    assert a.tags == ("transport", "budget")
    # Markdown markup is stripped so quotes read as prose.
    assert a.body.startswith("The council approved the plan on Tuesday.")
    assert "Reaction" in a.body and "##" not in a.body and "](" not in a.body
    assert "---" not in a.body and "title:" not in a.body


def test_markdown_without_front_matter_uses_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("# Harbour closes for repairs\n\nThe harbour closed on Monday. It reopens in May.\n")
    a = only_article(load_all(path))
    assert a.title == "Harbour closes for repairs"
    assert a.body == "The harbour closed on Monday. It reopens in May."
    assert a.published_at is None


def test_text_without_front_matter_first_line_is_title(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("Rail strike called off\nUnions and the operator reached a deal late on Sunday.\n")
    a = only_article(load_all(path))
    assert a.title == "Rail strike called off"
    assert a.body == "Unions and the operator reached a deal late on Sunday."


def test_text_with_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "fm.txt"
    path.write_text("---\ntitle: Ferry fares rise\noutlet: Coast Times\ndate: 2025-01-05\n---\nFares rise 5%.\n")
    a = only_article(load_all(path))
    assert (a.title, a.source, a.body) == ("Ferry fares rise", "Coast Times", "Fares rise 5%.")
    assert a.published_at == datetime(2025, 1, 5, tzinfo=UTC)


def test_broken_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\nBody text here.\n")
    [item] = load_all(path)
    assert item.article is None and "front matter" in (item.error or "")


# ---------- HTML ----------
PAGE = """<!DOCTYPE html>
<html><head>
<meta charset="utf-8">
<title>Wind farm plan wins approval | Coast Times</title>
<meta property="og:title" content="Wind farm plan wins approval">
<meta property="og:site_name" content="Coast Times">
<meta property="article:published_time" content="2024-08-14T06:30:00+01:00">
<meta name="author" content="Sam Okafor">
<link rel="canonical" href="https://coasttimes.example/energy/wind-farm?utm_medium=rss">
<style>body { color: SECRET_STYLE_RULE; }</style>
<script>var tracker = "SECRET_SCRIPT_CODE"; function track() { return 1; }</script>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/energy">Energy</a></li></ul></nav>
<article>
<h1>Wind farm plan wins approval</h1>
<p>Regulators approved a 1.2 gigawatt offshore wind farm on Wednesday, the largest in the region so far.
The developer said construction would begin next spring and employ about 900 people.</p>
<script>document.write("SECRET_INLINE_SCRIPT")</script>
<p>Fishing groups said they would appeal, arguing that the turbines would close traditional grounds.
Officials said a compensation fund of 40 million euros would be set up for affected crews.</p>
<style>.ad { display: none } /* SECRET_INLINE_STYLE */</style>
<p>The project is expected to power roughly one million homes when it is completed in 2028.</p>
</article>
<footer>Copyright Coast Times. All rights reserved.</footer>
</body></html>
"""


def test_html_main_text_metadata_and_scripts_stripped(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE)
    a = only_article(load_all(path))
    assert a.title == "Wind farm plan wins approval"
    assert a.source == "Coast Times"
    assert a.author == "Sam Okafor"
    assert a.url == "https://coasttimes.example/energy/wind-farm?utm_medium=rss"
    # The page's full timestamp (not just the day trafilatura keeps), converted correctly.
    assert a.published_at == datetime(2024, 8, 14, 5, 30, tzinfo=UTC)
    assert "Regulators approved a 1.2 gigawatt offshore wind farm" in a.body
    assert "one million homes" in a.body
    for secret in ("SECRET_SCRIPT_CODE", "SECRET_INLINE_SCRIPT", "SECRET_STYLE_RULE", "SECRET_INLINE_STYLE"):
        assert secret not in a.body
    assert "function track" not in a.body and "{" not in a.body
    assert not a.body.startswith("Wind farm plan wins approval")  # the <h1> title is not repeated


def test_html_without_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.htm"
    path.write_text("<html><head><title>Nothing</title><script>var x = 1;</script></head><body></body></html>")
    [item] = load_all(path)
    assert item.article is None and "empty body" in (item.error or "")


# ---------- feeds ----------
RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Harbour Herald</title>
  <link>https://herald.example/</link>
  <description>News</description>
  <lastBuildDate>Fri, 20 Dec 2024 18:00:00 GMT</lastBuildDate>
  <item>
    <title>Port traffic hits record</title>
    <link>https://herald.example/port-record</link>
    <guid>https://herald.example/port-record</guid>
    <pubDate>Tue, 03 Dec 2024 07:15:00 +0100</pubDate>
    <dc:creator>Lena Voss</dc:creator>
    <category>shipping</category>
    <description>Short teaser only.</description>
    <content:encoded><![CDATA[<p>Container traffic at the port reached a record 9.1 million units
    this year.</p>
    <script>alert("SECRET_FEED_SCRIPT")</script>
    <p>The operator credited new cranes and a deeper channel.</p>]]></content:encoded>
  </item>
  ITEMS
</channel>
</rss>
"""

GOOD_ITEM = """<item><title>Ferry line adds winter sailings</title><link>https://herald.example/ferry</link>
<pubDate>Wed, 04 Dec 2024 09:00:00 GMT</pubDate>
<description>The ferry line will add four winter sailings a week from January.</description></item>"""


def test_rss_content_encoded_and_pubdate(tmp_path: Path) -> None:
    path = tmp_path / "herald.rss"
    path.write_text(RSS.replace("ITEMS", GOOD_ITEM))
    items = load_all(path)
    assert [i.error for i in items] == [None, None]
    first, second = (i.article for i in items)
    assert first is not None and second is not None
    assert first.title == "Port traffic hits record"
    assert first.source == "Harbour Herald" and first.author == "Lena Voss"
    assert first.body.startswith("Container traffic at the port reached a record 9.1 million units")
    assert "new cranes" in first.body and "teaser" not in first.body
    assert "SECRET_FEED_SCRIPT" not in first.body
    # pubDate is the publication date (not the time of ingest, not lastBuildDate).
    assert first.published_at == datetime(2024, 12, 3, 6, 15, tzinfo=UTC)
    assert first.category == "shipping"
    # Without full content the summary is the body.
    assert second.body == "The ferry line will add four winter sailings a week from January."
    assert second.published_at == datetime(2024, 12, 4, 9, 0, tzinfo=UTC)
    assert [i.item for i in items] == ["entry 1", "entry 2"]


def test_feed_with_some_broken_entries_keeps_the_good_ones(tmp_path: Path) -> None:
    broken = """
    <item><link>https://herald.example/untitled</link><description>No title at all here.</description></item>
    <item><title>No body</title><link>https://herald.example/nobody</link></item>
    <item><title>Bad date</title><link>https://herald.example/baddate</link>
      <pubDate>sometime next week</pubDate><description>Text of it.</description></item>
    """
    path = tmp_path / "mixed.xml"
    path.write_text(RSS.replace("ITEMS", broken + GOOD_ITEM))
    items = load_all(path)
    assert len(items) == 5
    by_item = {i.item: i for i in items}
    assert by_item["entry 1"].article is not None
    assert "no title" in (by_item["entry 2"].error or "")
    assert "empty body" in (by_item["entry 3"].error or "")
    assert "cannot parse published_at" in (by_item["entry 4"].error or "")
    assert by_item["entry 5"].article is not None and by_item["entry 5"].article.title.startswith("Ferry")
    assert all(i.path == str(path) for i in items)


def test_atom_feed(tmp_path: Path) -> None:
    path = tmp_path / "desk.atom"
    path.write_text(
        """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Inland Desk</title>
  <id>tag:inland.example,2024:feed</id>
  <updated>2025-02-01T00:00:00Z</updated>
  <entry>
    <title>River levels fall after floods</title>
    <link rel="alternate" href="https://inland.example/river"/>
    <id>tag:inland.example,2025:river</id>
    <published>2025-01-20T10:00:00+05:30</published>
    <updated>2025-01-21T08:00:00Z</updated>
    <author><name>Ravi Menon</name></author>
    <summary>Short summary.</summary>
    <content type="html">&lt;p&gt;River levels fell below the danger mark on Monday.&lt;/p&gt;
    &lt;p&gt;Relief camps will stay open for another week.&lt;/p&gt;</content>
  </entry>
</feed>"""
    )
    a = only_article(load_all(path))
    assert (a.title, a.source, a.author) == ("River levels fall after floods", "Inland Desk", "Ravi Menon")
    assert a.url == "https://inland.example/river"
    assert a.published_at == datetime(2025, 1, 20, 4, 30, tzinfo=UTC)
    assert a.updated_at == datetime(2025, 1, 21, 8, 0, tzinfo=UTC)
    assert (
        a.body == "River levels fell below the danger mark on Monday.\n\nRelief camps will stay open for another week."
    )


def test_not_a_feed(tmp_path: Path) -> None:
    path = tmp_path / "config.xml"
    path.write_text("<?xml version='1.0'?><settings><value>1</value></settings>")
    [item] = load_all(path)
    assert item.article is None and "not an RSS/Atom feed" in (item.error or "")


# ---------- folders, stdin, unknown paths ----------
def test_folder_walk_is_recursive_and_skips_readme(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".hidden").mkdir()
    write_jsonl(root / "top.jsonl", [_record(1)])
    (root / "a" / "one.md").write_text("# One\n\nFirst nested article text.\n")
    (root / "a" / "b" / "two.txt").write_text("Two\nSecond, deeper nested article text.\n")
    (root / "README.md").write_text("# About this folder\n\nNot an article.\n")
    (root / "a" / "readme.txt").write_text("Readme\nAlso not an article.\n")
    (root / "notes.csv").write_text("a,b\n1,2\n")
    (root / ".hidden" / "secret.md").write_text("# Hidden\n\nNot loaded.\n")
    (root / ".draft.md").write_text("# Draft\n\nNot loaded.\n")
    items = load_all(root)
    assert [i.error for i in items] == [None, None, None]
    titles = sorted(i.article.title for i in items if i.article)
    assert titles == ["Council story 1", "One", "Two"]
    # An explicit path to an unsupported file, or a missing path, is an error rather than silence.
    [csv] = load_all(root / "notes.csv")
    assert "unsupported file type '.csv'" in (csv.error or "")
    [missing] = load_all(tmp_path / "nope")
    assert missing.error == "no such file or folder"


def test_load_many_keeps_order(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "1.jsonl", [_record(1)])
    second = tmp_path / "2.md"
    second.write_text("# Second\n\nText.\n")
    titles = [i.article.title for i in load_many([first, second]) if i.article]
    assert titles == ["Council story 1", "Second"]


@pytest.mark.integration
@pytest.mark.slow
def test_stdin_jsonl_through_the_cli(tmp_path: Path) -> None:
    data = "\n".join(json.dumps(_record(n, source="Stdin News")) for n in range(3)) + "\n{bad json\n"
    summary = cli_json(["ingest", "-"], tmp_path / "data", expect=1, stdin=data.encode())
    assert (summary["added"], summary["chunks"] >= 3) == (3, True)
    assert summary["failed"] == [{"path": "<stdin>", "item": "line 4", "error": summary["failed"][0]["error"]}]
    assert "malformed JSON" in summary["failed"][0]["error"]
    listed = cli_json(["articles", "list"], tmp_path / "data")
    assert sorted(a["title"] for a in listed) == ["Council story 0", "Council story 1", "Council story 2"]
    assert {a["source"] for a in listed} == {"Stdin News"}


# ---------- same id twice in one batch ----------
def test_same_id_twice_in_one_batch(tmp_path: Path, runtime: Runtime) -> None:
    url = "https://gazette.example/same"
    path = write_jsonl(
        tmp_path / "twice.jsonl",
        [_record(1, url=url), _record(2, url=url + "?utm_source=feed"), _record(3)],
    )
    report = ingest(load(path), runtime.store, runtime.embedder, runtime.settings)
    assert report.added == 2
    [failure] = report.failed
    assert (failure.path, failure.item) == (str(path), "line 2")
    assert "same article id" in failure.error and "line 1" in failure.error
    stored = runtime.store.catalog.list(ArticleFilter())
    assert sorted(a.title for a in stored) == ["Council story 1", "Council story 3"]


# ---------- the sample corpus ----------
def test_samples_all_load() -> None:
    items = load_all(SAMPLES)
    errors = [(i.where, i.error) for i in items if i.error]
    assert errors == []
    articles = [i.article for i in items if i.article]
    assert len(articles) == SAMPLE_COUNT
    assert len({a.id for a in articles}) == SAMPLE_COUNT
    sources = {a.source for a in articles}
    assert len(sources) >= 5 and None not in sources
    lo, hi = datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    for a in articles:
        assert a.title and len(a.title) > 10
        assert a.source
        assert a.published_at is not None and a.published_at.utcoffset() is not None, a.origin
        assert lo <= a.published_at < hi, (a.origin, a.published_at)
        assert len(a.body) > 500
        assert "<" not in a.body and "function(" not in a.body
    # Every format is represented in the samples.
    suffixes = {Path(i.path).suffix for i in items}
    assert {".jsonl", ".md", ".html", ".rss", ".atom"} <= suffixes
    # The README describing the folder is not an article.
    assert not any(i.path.endswith("README.md") for i in items)


def test_timezone_offsets_are_kept_as_instants(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "tz.jsonl", [_record(1, published_at="2024-03-10T23:30:00-08:00")])
    a = only_article(load_all(path))
    assert a.published_at is not None
    assert a.published_at.astimezone(timezone(timedelta(0))) == datetime(2024, 3, 11, 7, 30, tzinfo=UTC)


def test_html_fragment_to_text_drops_scripts_and_keeps_paragraphs() -> None:
    # Feed content goes through this after feedparser; it must not rely on feedparser's own sanitising.
    fragment = (
        "<p>First paragraph.</p><script>var SECRET = 1;</script><style>p { color: red }</style>"
        "<div>Second<br>line</div><noscript>SECRET noscript</noscript><iframe>SECRET</iframe>"
    )
    assert html_to_text(fragment) == "First paragraph.\n\nSecond\n\nline"
    assert html_to_text("plain text, no tags") == "plain text, no tags"
    assert html_to_text("   ") == ""


def test_zone_abbreviations_in_dates(tmp_path: Path) -> None:
    # JSON exports often carry RSS-style dates with zone names; dateutil alone would warn and drop the zone.
    path = write_jsonl(
        tmp_path / "zones.jsonl",
        [
            _record(1, pubDate="Mon, 13 May 2024 15:00:00 EDT"),
            _record(2, date="2024-01-15 09:30 PST"),
            _record(3, published_at="2024-07-01 12:00 CEST"),
            _record(4, published_at="2024-05-13 19:00 UTC"),
            _record(5, published_at="2024-05-13 19:00 XYZ"),
        ],
    )
    items = load_all(path)
    got = [i.article.published_at if i.article else i.error for i in items]
    assert got[:4] == [
        datetime(2024, 5, 13, 19, 0, tzinfo=UTC),
        datetime(2024, 1, 15, 17, 30, tzinfo=UTC),
        datetime(2024, 7, 1, 10, 0, tzinfo=UTC),
        datetime(2024, 5, 13, 19, 0, tzinfo=UTC),
    ]
    assert "unknown time zone" in str(got[4]) and "XYZ" in str(got[4])
