"""Settings as a user writes them: list settings comma-separated (or as a JSON list) in the environment
and in `.env`, read by a real subprocess; invalid values named in one line; `.env.example` complete."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import Settings, env_names, load_settings

REPO = Path(__file__).resolve().parents[2]
LIST_SETTINGS = ("api_keys", "admin_keys", "cors_origins")
READ = "from rag.settings import load_settings; import json; s = load_settings(); " + (
    "print(json.dumps({'api_keys': s.api_keys, 'admin_keys': s.admin_keys, 'cors_origins': s.cors_origins}))"
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSRAG_")}
    env.update(extra)
    return env


def read_in_subprocess(cwd: Path, **env: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", READ], env=clean_env(**env), cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("k1,k2", ["k1", "k2"]),
        (" k1 , k2 ,", ["k1", "k2"]),
        ("solo", ["solo"]),
        ('["j1", "j2"]', ["j1", "j2"]),
        ("", []),
    ],
)
def test_list_settings_from_a_process_environment(tmp_path: Path, value: str, expected: list[str]) -> None:
    got = read_in_subprocess(tmp_path, NEWSRAG_API_KEYS=value, NEWSRAG_ADMIN_KEYS=value, NEWSRAG_CORS_ORIGINS=value)
    assert got == {name: expected for name in LIST_SETTINGS}


def test_list_settings_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "NEWSRAG_API_KEYS=k1,k2\nNEWSRAG_ADMIN_KEYS=boss\nNEWSRAG_CORS_ORIGINS=http://localhost:3000\n"
    )
    got = read_in_subprocess(tmp_path)
    assert got == {"api_keys": ["k1", "k2"], "admin_keys": ["boss"], "cors_origins": ["http://localhost:3000"]}


def test_an_invalid_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSRAG_TOP_K", "notanumber")
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert "\n" not in info.value.message
    assert info.value.message.startswith("invalid setting NEWSRAG_TOP_K='notanumber': ")
    assert "valid integer" in info.value.message


def test_a_broken_json_list_is_named_without_echoing_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSRAG_API_KEYS", '["secret-one", "secret-two"')
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert info.value.message.startswith("invalid setting NEWSRAG_API_KEYS: ")
    assert "secret" not in info.value.message


def test_env_names_of_aliased_settings() -> None:
    assert env_names("top_k") == "NEWSRAG_TOP_K"
    assert env_names("openai_base_url") == "NEWSRAG_OPENAI_BASE_URL or OPENAI_BASE_URL"


# ----------------------------------------------------------------------------- .env.example

_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def example_settings() -> dict[str, str]:
    """VARIABLE -> value as `.env.example` lists it (commented-out lines count: they show the default)."""
    found: dict[str, str] = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if m := _LINE.match(line.strip()):
            found[m.group(1)] = m.group(2)
    return found


def test_env_example_lists_exactly_the_settings_fields() -> None:
    listed = example_settings()
    expected = {env_names(name).split(" or ")[-1] for name in Settings.model_fields}
    assert set(listed) == expected


def test_env_example_shows_every_default() -> None:
    listed = example_settings()
    defaults = Settings(_env_file=None)
    for name in Settings.model_fields:
        value = getattr(defaults, name)
        shown = listed[env_names(name).split(" or ")[-1]]
        if value is None or value == []:
            assert shown == "", name
        elif isinstance(value, Path):
            assert Path(shown).expanduser() == value, name
        elif isinstance(value, bool | int | float | str):
            assert shown == str(value), name
        else:
            raise AssertionError(f"{name}: a default of type {type(value).__name__} this test cannot compare")
    # and the values it shows are ones Settings accepts
    assigned = {k: v for k, v in listed.items() if v != ""}
    done = subprocess.run(
        [sys.executable, "-c", "from rag.settings import load_settings; load_settings(_env_file=None)"],
        env=clean_env(**assigned),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
