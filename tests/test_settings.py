"""Settings read the environment through evalproject.env: parsed values, no default secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalproject.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent
SHOW_SETTINGS = (
    "import django; django.setup(); from django.conf import settings; "
    "print('DEBUG=' + repr(settings.DEBUG)); "
    "print('SECRET_KEY_SET=' + repr(bool(settings.SECRET_KEY)))"
)


def run_settings(module: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Import Django with `module` in a fresh interpreter; None unsets a variable."""
    environ = dict(os.environ, DJANGO_SETTINGS_MODULE=module)
    for name in ("SECRET_KEY", "DEBUG"):
        environ.pop(name, None)
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run([sys.executable, "-c", SHOW_SETTINGS], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


# --- env.py -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,expected", [
    ("1", True), ("true", True), ("True", True), ("YES", True), ("on", True), (" true ", True),
    ("0", False), ("false", False), ("FALSE", False), ("no", False), ("off", False), ("", False),
])
def test_env_bool_parses_the_usual_spellings(monkeypatch: pytest.MonkeyPatch, raw: str,
                                             expected: bool) -> None:
    # given a boolean-looking variable
    monkeypatch.setenv("EVAL_TEST_FLAG", raw)

    # when it is read as a boolean
    value = env_bool("EVAL_TEST_FLAG", default=not expected)

    # then it is a real bool, not the raw string
    assert value is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "ja", "truee"])
def test_env_bool_rejects_values_that_are_not_booleans(monkeypatch: pytest.MonkeyPatch,
                                                       raw: str) -> None:
    # given a variable that is no boolean
    monkeypatch.setenv("EVAL_TEST_FLAG", raw)

    # when it is read as a boolean, then it raises naming the variable
    with pytest.raises(ImproperlyConfiguredEnv, match="EVAL_TEST_FLAG"):
        env_bool("EVAL_TEST_FLAG")


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_uses_the_default_when_unset(monkeypatch: pytest.MonkeyPatch,
                                              default: bool) -> None:
    # given the variable is unset
    monkeypatch.delenv("EVAL_TEST_FLAG", raising=False)

    # when it is read, then the default is returned
    assert env_bool("EVAL_TEST_FLAG", default=default) is default


def test_env_int_parses_integers_and_rejects_other_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an integer, an empty and a broken value
    monkeypatch.setenv("EVAL_TEST_INT", "42")
    assert env_int("EVAL_TEST_INT", 7) == 42
    monkeypatch.setenv("EVAL_TEST_INT", "")
    assert env_int("EVAL_TEST_INT", 7) == 7
    monkeypatch.delenv("EVAL_TEST_INT")
    assert env_int("EVAL_TEST_INT", 7) == 7
    monkeypatch.setenv("EVAL_TEST_INT", "4x")

    # when the broken one is read, then it raises
    with pytest.raises(ImproperlyConfiguredEnv, match="EVAL_TEST_INT"):
        env_int("EVAL_TEST_INT", 7)


def test_env_str_requires_a_value_when_there_is_no_default(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an unset variable
    monkeypatch.delenv("EVAL_TEST_STR", raising=False)

    # when it is read with and without a default
    assert env_str("EVAL_TEST_STR", default="fallback") == "fallback"
    with pytest.raises(ImproperlyConfiguredEnv, match="EVAL_TEST_STR is required"):
        env_str("EVAL_TEST_STR")

    # then a set value is returned as is
    monkeypatch.setenv("EVAL_TEST_STR", "value")
    assert env_str("EVAL_TEST_STR") == "value"


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a comma-separated list with spaces and an empty entry
    monkeypatch.setenv("EVAL_TEST_LIST", " a.example , ,b.example,")

    # when it is read, then the entries are trimmed and blanks dropped
    assert env_list("EVAL_TEST_LIST") == ["a.example", "b.example"]
    monkeypatch.delenv("EVAL_TEST_LIST")
    assert env_list("EVAL_TEST_LIST", default=["x"]) == ["x"]


# --- settings modules ---------------------------------------------------------------------


def test_production_settings_refuse_to_load_without_secret_key() -> None:
    # given production settings and no SECRET_KEY in the environment
    # when Django starts
    result = run_settings("evalproject.settings.production", SECRET_KEY=None)

    # then it exits non-zero and says which variable is missing
    assert result.returncode != 0
    assert "environment variable SECRET_KEY is required" in result.stderr


def test_production_settings_load_with_secret_key_and_debug_off() -> None:
    # given production settings with a SECRET_KEY and no DEBUG
    # when Django starts
    result = run_settings("evalproject.settings.production", SECRET_KEY="s" * 50)

    # then it loads with DEBUG off
    assert result.returncode == 0, result.stderr
    assert "DEBUG=False" in result.stdout
    assert "SECRET_KEY_SET=True" in result.stdout


@pytest.mark.parametrize("module", ["evalproject.settings.test",
                                    "evalproject.settings.production"])
def test_debug_defaults_to_false(module: str) -> None:
    # given DEBUG unset
    # when the settings load
    result = run_settings(module, SECRET_KEY="s" * 50)

    # then DEBUG is False
    assert result.returncode == 0, result.stderr
    assert "DEBUG=False" in result.stdout


@pytest.mark.parametrize("raw,expected", [("true", "DEBUG=True"), ("0", "DEBUG=False"),
                                          ("off", "DEBUG=False")])
def test_debug_is_parsed_as_a_boolean(raw: str, expected: str) -> None:
    # given DEBUG spelled as text
    # when the settings load
    result = run_settings("evalproject.settings.test", DEBUG=raw)

    # then DEBUG is the parsed boolean
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_a_debug_value_that_is_not_a_boolean_stops_startup() -> None:
    # given DEBUG="sure"
    # when the settings load
    result = run_settings("evalproject.settings.test", DEBUG="sure")

    # then startup fails naming the variable instead of treating the string as truthy
    assert result.returncode != 0
    assert "environment variable DEBUG='sure' is not a boolean" in result.stderr
