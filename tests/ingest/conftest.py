"""Fixtures of the live-ingest tests: the loopback news site, and a fetch policy that may reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.fetch import FetchPolicy
from tests.support.news_site import NewsSite, news_site


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with news_site() as running:
        yield running


@pytest.fixture
def policy() -> FetchPolicy:
    """Loopback allowed (the site lives there), a short timeout, a 1 MB limit, no delay between requests."""
    return FetchPolicy(
        timeout=1.0, max_bytes=1_000_000, allow_private=True, per_host_delay=0.0, user_agent="newsrag-test/1"
    )
