"""Custom metrics: user functions registered by name or loaded from "package.module:function".

A custom function takes the records (Sequence[OutputRecord]) and returns a float, None
(no value) or a full MetricResult; it declares its inputs, range and direction with
`@custom_metric(...)` or through `register_custom(..., needs=...)`.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from metrics.compute.automatic.base import (
    MetricFunc,
    MetricOptions,
    MetricRegistry,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    finite_or_none,
    missing,
)
from metrics.compute.automatic.registry import REGISTRY

CustomFunc = Callable[[Sequence[OutputRecord]], "float | None | MetricResult"]


def _custom_wrap(name: str, func: CustomFunc) -> MetricFunc:
    def run(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        out = func(records)
        if isinstance(out, MetricResult):
            return out
        if out is None:
            return missing(name, "custom metric returned no value")
        return MetricResult(name=name, value=finite_or_none(out))

    return run


def register_custom(
    name: str,
    func: CustomFunc,
    *,
    needs: Sequence[Need | str] = (),
    value_range: tuple[float, float] = (-math.inf, math.inf),
    higher_is_better: bool = True,
    registry: MetricRegistry | None = None,
) -> MetricSpec:
    """Register `func(records) -> float | None | MetricResult` as `name` (default: REGISTRY)."""
    registry = REGISTRY if registry is None else registry
    spec = MetricSpec(
        name=name, needs=frozenset(Need(n) for n in needs), value_range=value_range,
        higher_is_better=higher_is_better, segment_level=False,
        func=_custom_wrap(name, func), custom=True,
    )
    registry.add(spec)
    return spec


def custom_metric(
    *, name: str | None = None, needs: Sequence[Need | str] = (),
    value_range: tuple[float, float] = (-math.inf, math.inf), higher_is_better: bool = True,
) -> Callable[[CustomFunc], CustomFunc]:
    """Decorator declaring a custom metric's name, inputs, range and direction for the loader."""

    def mark(func: CustomFunc) -> CustomFunc:
        func.metric_declaration = {  # type: ignore[attr-defined]
            "name": name or func.__name__, "needs": tuple(needs),
            "value_range": value_range, "higher_is_better": higher_is_better,
        }
        return func

    return mark


def custom_metrics_load(
    paths: Sequence[str], registry: MetricRegistry | None = None
) -> list[MetricSpec]:
    """Import "package.module:function" strings and register each (declared by @custom_metric).

    A target that is a MetricSpec is registered as is; a bare function is registered under
    its own name with no declared inputs. Bad strings raise ValueError/ImportError.
    """
    registry = REGISTRY if registry is None else registry
    loaded: list[MetricSpec] = []
    for path in paths:
        module_name, sep, attr = path.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"custom metric {path!r} is not 'package.module:function'")
        target = getattr(importlib.import_module(module_name), attr)
        if isinstance(target, MetricSpec):
            registry.add(target)
            loaded.append(target)
            continue
        if not callable(target):
            raise ValueError(f"custom metric {path!r} is not callable")
        declared: dict[str, Any] = getattr(target, "metric_declaration", {})
        loaded.append(register_custom(
            declared.get("name", target.__name__), target, registry=registry,
            needs=declared.get("needs", ()),
            value_range=declared.get("value_range", (-math.inf, math.inf)),
            higher_is_better=declared.get("higher_is_better", True),
        ))
    return loaded
