"""Shared fixtures: users, API clients, and small import bundles written to tmp files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.annotations.factories import UserFactory

SPEC: dict[str, Any] = {
    "name": "Tiny", "slug": "tiny", "kind": "rating", "overlap": 2, "baseline": "base",
    "criteria": [
        {"key": "fluency", "label": "Fluency", "min": 1, "max": 5, "level": "ordinal"},
        {"key": "accuracy", "label": "Accuracy", "min": 1, "max": 5, "level": "interval"},
    ],
    "metrics": ["bleu", "rougeL"],
}


def output_rows(items: int = 4, systems: tuple[str, ...] = ("base", "ft")) -> list[dict[str, Any]]:
    """Rows in the import format: every system answers every item."""
    return [
        {"item_id": f"q{i}", "input": f"question {i}?", "references": [f"answer {i}"],
         "system": system, "output": f"{system} says {i}", "latency_ms": 100 + i, "tokens": 5}
        for i in range(1, items + 1) for system in systems
    ]


def jsonl_bytes(rows: list[Any]) -> bytes:
    """Rows (dicts, or raw strings kept verbatim) as JSONL bytes."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Write rows (dicts, or raw strings written verbatim) as JSONL."""
    path.write_bytes(jsonl_bytes(rows))
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """Make (spec path, outputs path) from a spec dict and output rows."""

    def make(spec: dict[str, Any] | None = None, rows: list[Any] | None = None
             ) -> tuple[Path, Path]:
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec if spec is not None else SPEC), encoding="utf-8")
        outputs = write_jsonl(tmp_path / "outputs.jsonl",
                              rows if rows is not None else output_rows())
        return spec_path, outputs

    return make


@pytest.fixture
def staff_user(db: Any) -> Any:
    return UserFactory(is_staff=True, username="staff")


@pytest.fixture
def staff_client(staff_user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff_user)
    return client
