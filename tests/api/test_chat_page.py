"""The chat page in a real headless Chromium (Debian's chromium driven by Python playwright): type a
question, watch the answer stream, follow a citation; article text holding markup never runs; a
refusal shows as a refusal. A screenshot is saved to tests/artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.embeddings import Embedder
from rag.settings import Settings
from tests.api.conftest import llm_settings, serving
from tests.support.fake_llm import FakeLLM

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ARTICLES = [
    {
        "title": "Harbour bridge approved <script>window.pwned = 'title'</script>",
        "body": "The Northport council approved the new harbour bridge on Monday at a cost of $2 billion "
        "<img src=x onerror=\"window.pwned = 'body'\">, officials said. Construction starts next spring.",
        "url": "https://example.test/news/bridge",
        "source": "Harbour <b>Herald</b>",
        "published_at": "2025-03-03T09:00:00Z",
    },
    {
        "title": "Ferry service extended to midnight",
        "body": "The ferry between Northport and the islands will run until midnight from May, the operator said.",
        "url": "https://example.test/news/ferry",
        "source": "Island Times",
        "published_at": "2025-04-01T09:00:00Z",
    },
]
REPLY = ["The", " Northport", " harbour", " bridge", " will", " cost", " $2", " billion", " [1]", "."]


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip(
            "Debian chromium is not installed (/usr/bin/chromium): `apt-get install -y chromium` "
            "or `make browser` to run the chat-page test"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")), args=ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page_api(tmp_path: Path, embedder: Embedder, fake_llm: FakeLLM) -> Iterator[str]:
    settings = llm_settings(Settings(_env_file=None, data_dir=tmp_path / "data"), fake_llm, llm_timeout=10.0)
    with serving(settings, embedder) as base:
        report = httpx.post(f"{base}/v1/articles", json=ARTICLES, timeout=60, trust_env=False).json()
        assert report["added"] == 2, report
        yield base


def test_chat_page_streams_cites_and_escapes(browser, page_api: str, fake_llm: FakeLLM) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    fake_llm.queue_tokens(REPLY, token_delay=0.25)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.goto(page_api)
    expect(page.locator("#corpus")).to_contain_text("2 articles")
    expect(page.locator("#source option")).to_have_count(3)

    page.fill("#question", "How much will the Northport harbour bridge cost?")
    page.click("#ask-button")

    # The raw model text appears while it is written, before the verified answer replaces it.
    draft = page.locator(".turn .text.draft")
    expect(draft).to_contain_text("Northport harbour", timeout=10_000)
    assert "billion" not in draft.inner_text(), "the whole answer arrived at once: nothing was streamed"

    footnote = page.locator(".turn .footnote").first
    expect(footnote).to_be_visible(timeout=15_000)
    text = page.locator(".turn .text")
    expect(text).not_to_have_class("text draft")
    expect(text).to_contain_text("$2 billion [1].")
    expect(footnote).to_contain_text("Harbour <b>Herald</b>")  # shown as text, not markup
    expect(footnote).to_contain_text("2025-03-03")
    expect(footnote.locator(".quote")).to_contain_text("<img src=x onerror=\"window.pwned = 'body'\">")
    expect(footnote.locator("a.title")).to_contain_text("<script>window.pwned = 'title'</script>")
    assert footnote.locator("a.title").get_attribute("href") == "https://example.test/news/bridge"

    marker = page.locator(".turn sup.marker a").first
    target = marker.get_attribute("href")
    assert target and target.startswith("#") and target.endswith("-cite-1")
    marker.click()
    assert page.evaluate("location.hash") == target
    assert page.evaluate(f"document.querySelector('{target}').matches(':target')")

    assert page.evaluate("window.pwned") is None, "article markup ran as code"
    assert page.locator(".turn script, .turn img, .turn b").count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)

    # A refusal is shown as one, with its reason and the closest sources. (The follow-up is first
    # condensed with the conversation so far: the scripted model answers that with the standalone question.)
    fake_llm.queue_text("How much will the Northport harbour bridge cost?")
    page.fill("#since", "1990-01-01")
    page.fill("#until", "1990-12-31")
    page.fill("#question", "How much will the Northport harbour bridge cost?")
    page.click("#ask-button")
    refusal = page.locator(".turn").nth(1).locator(".refusal")
    expect(refusal).to_be_visible(timeout=15_000)
    expect(refusal).to_contain_text("No answer")
    expect(refusal).to_contain_text("date range")
    expect(page.locator(".turn").nth(1).locator(".closest li").first).to_contain_text("Harbour bridge approved")
    page.screenshot(path=str(ARTIFACTS / "chat-page-refusal.png"), full_page=True)
    assert page.evaluate("window.pwned") is None
    assert not console_errors, console_errors
    page.close()
