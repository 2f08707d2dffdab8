"""The `fake_llm` fixture: the scripted OpenAI-compatible server (testkit/scripted_llm.py), one per
session, reset for each test.

    def test_answer(fake_llm):
        fake_llm.queue_text("Microsoft invested $13 billion [1].", tokens=["Microsoft", " invested", ...])
        fake_llm.queue_error(500)
        llm = ChatOpenAI(base_url=fake_llm.base_url, api_key="test", model="scripted", max_retries=0)
        ...
        assert "Microsoft" in fake_llm.last_user_message()
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testkit.scripted_llm import FakeLLM

__all__ = ["FakeLLM", "fake_llm", "fake_llm_server"]


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    """One scripted server for the session (use `fake_llm`, which resets it for each test)."""
    server = FakeLLM()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    """The scripted OpenAI-compatible server, up, with an empty queue and no recorded requests; strict by
    default (an unscripted chat request gets a 500 saying so)."""
    server = fake_llm_server
    server.reset()
    server.set_default_reply(None)
    server.start()
    yield server
    server.reset()
    if not server.is_up:
        server.start()
