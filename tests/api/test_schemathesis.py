"""Property-based requests from the OpenAPI schema (schemathesis) against a real server: nothing a
client can send gets a 5xx, and responses match the schema. Bounded: a few examples per operation.

Each operation's cases come from schemathesis' hypothesis strategy, driven by hypothesis directly (the
schemathesis pytest plugin does not work with this pytest version)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rag.embeddings import Embedder
from rag.settings import Settings
from tests.api.conftest import serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 40
SEED = [
    {
        "title": f"Report {i} on the {topic}",
        "body": f"Officials said on Monday that the {topic} would cost ${i + 2} billion. Work starts in {2025 + i}.",
        "source": outlet,
        "published_at": f"2025-0{i + 1}-15",
        "url": f"https://example.test/{i}",
    }
    for i, (topic, outlet) in enumerate(
        [("bridge", "Harbour Herald"), ("tunnel", "Coast Wire"), ("stadium", "Metro Daily")]
    )
]


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    data = Path(tmp_path_factory.mktemp("fuzz")) / "data"
    with serving(
        Settings(_env_file=None, data_dir=data, max_articles_per_request=5, max_body_bytes=50_000), embedder
    ) as url:
        # Something to find, so fuzzed questions reach the answerer and not only the empty-store reply.
        report = httpx.post(f"{url}/v1/articles", json=SEED, timeout=60, trust_env=False).json()
        assert report["added"] == len(SEED), report
        yield url


def test_no_server_errors(fuzz_api: str) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_api}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    calls: list[int] = []
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(base_url=fuzz_api, timeout=30)
            calls.append(1)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.body!r:.300} -> {response.status_code}: "
                f"{response.text[:300]}"
            )
            case.validate_response(
                response, checks=[status_code_conformance, content_type_conformance, response_schema_conformance]
            )

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 5 * len(operations)
