"""The HTTP schemas that are not the core models themselves still match them, field for field."""

from __future__ import annotations

from api.schemas import ArticleOut, ArticleSummary
from rag.models import Article


def _fields(model: type) -> dict[str, object]:
    return {name: field.annotation for name, field in model.model_fields.items()}  # type: ignore[attr-defined]


def test_article_summary_is_the_article_without_its_text() -> None:
    core = _fields(Article)
    summary = _fields(ArticleSummary)
    assert set(summary) == set(core) - {"body", "origin"}
    differing = {name for name in summary if summary[name] != core[name]}
    assert differing == {"tags", "alt_urls"}, differing  # served as lists, held as tuples
    assert summary["tags"] == list[str] and core["tags"] == tuple[str, ...]


def test_article_out_is_the_whole_article() -> None:
    assert set(_fields(ArticleOut)) == set(_fields(Article))
