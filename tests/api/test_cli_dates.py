"""`newsrag` refuses a date window that ends before it starts, as the API does (422), before any store opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_settings_env import run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("command", [["ask", "What happened?"], ["articles", "list"]])
def test_since_after_until_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    done = run(tmp_path, *command, "--since", "2025-01-02", "--until", "2025-01-01")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "error: since is after until"
    assert not (tmp_path / "data").exists()


def test_a_bare_day_as_until_includes_that_day(tmp_path: Path) -> None:
    done = run(tmp_path, "articles", "list", "--since", "2025-01-01", "--until", "2025-01-01", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
