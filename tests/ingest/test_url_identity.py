"""An article's URL is kept as the publisher gave it (that is what citations link to); only its identity
uses the canonical form (no trailing slash, no tracking parameters), so re-ingests still deduplicate."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import load
from ingest.pipeline import IngestReport, ingest
from ingest.validate import article_id, canonical_url
from rag.catalog import ArticleFilter
from rag.chain import NewsQA
from rag.models import Query
from rag.runtime import Runtime
from tests.ingest.helpers import write_jsonl

GIVEN = "https://techcrunch.com/2023/10/01/ftx-lawsuit-timeline/?utm_source=rss&utm_medium=feed"
CANONICAL = "https://techcrunch.com/2023/10/01/ftx-lawsuit-timeline"
ARTICLE = {
    "title": "A timeline of the FTX lawsuit",
    "body": "The FTX trial began in Manhattan on Tuesday with jury selection. Prosecutors said the exchange "
    "moved billions of dollars of customer deposits into its sister trading firm.",
    "source": "TechCrunch",
    "published_at": "2023-10-01T12:00:00Z",
}


def ingest_one(tmp_path: Path, runtime: Runtime, url: str, name: str) -> IngestReport:
    path = write_jsonl(tmp_path / f"{name}.jsonl", [{**ARTICLE, "url": url}])
    return ingest(load(path), runtime.store, runtime.embedder, runtime.settings)


def test_citations_link_the_given_url_and_the_canonical_form_is_the_same_article(
    tmp_path: Path, runtime: Runtime
) -> None:
    assert canonical_url(GIVEN) == CANONICAL
    first = ingest_one(tmp_path, runtime, GIVEN, "given")
    assert (first.added, first.failed) == (1, ())
    [stored] = runtime.store.catalog.list(ArticleFilter())
    assert stored.url == GIVEN and stored.id == article_id(CANONICAL, None, "", "")

    answer = NewsQA(runtime).ask(Query(question="What did prosecutors say the FTX exchange did with deposits?"))
    assert not answer.refused, answer.answer
    assert answer.citations and {c.url for c in answer.citations} == {GIVEN}
    assert answer.sources[0].url == GIVEN

    again = ingest_one(tmp_path, runtime, GIVEN, "given-again")
    assert (again.added, again.unchanged) == (0, 1)

    # The canonical form (and any other spelling of it) is the same article, never a second one.
    for n, spelling in enumerate([CANONICAL, CANONICAL + "/", CANONICAL.replace("techcrunch", "TechCrunch")]):
        report = ingest_one(tmp_path, runtime, spelling, f"canonical-{n}")
        assert (report.added, report.failed) == (0, ()), spelling
        assert runtime.store.catalog.count() == 1
        [same] = runtime.store.catalog.list(ArticleFilter())
        assert same.id == stored.id
