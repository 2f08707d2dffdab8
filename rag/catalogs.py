"""Which catalog a store opens: the SQLite file in the data folder (the embedded default), or the
PostgreSQL database NEWSRAG_CATALOG_URL names, which several API hosts can share."""

from __future__ import annotations

from rag.catalog import Catalog, CatalogBackend
from rag.errors import ConfigError
from rag.settings import Settings


def make_catalog(settings: Settings) -> CatalogBackend:
    url = settings.catalog_url
    if not url:
        return Catalog(settings.catalog_path)
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("NEWSRAG_CATALOG_URL must be a postgresql://user:password@host:port/database URL")
    try:
        from rag.catalog_pg import PgCatalog
    except ImportError as exc:
        raise ConfigError(
            f"NEWSRAG_CATALOG_URL needs psycopg 3 and psycopg_pool: pip install 'newsrag[postgres]' ({exc})"
        ) from exc
    return PgCatalog(url, schema=settings.collection)
