"""The one place settings read the environment: typed, parsed, no silent string booleans."""

from __future__ import annotations

import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ImproperlyConfiguredEnv(RuntimeError):
    """An environment variable is missing or cannot be parsed."""


def env_str(name: str, default: str | None = None) -> str:
    """Return the variable as a string; raise if it is unset and there is no default."""
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfiguredEnv(f"environment variable {name} is required")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    """Parse 1/0, true/false, yes/no, on/off (any case)."""
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(f"environment variable {name}={value!r} is not a boolean")


def env_int(name: str, default: int) -> int:
    """Parse an integer variable."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfiguredEnv(
            f"environment variable {name}={value!r} is not an integer"
        ) from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Parse a comma-separated list, dropping empty entries."""
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [part.strip() for part in value.split(",") if part.strip()]
