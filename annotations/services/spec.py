"""Campaign spec (JSON or YAML): parse, locate each field's line, validate into a dataclass."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import IO, Any

import yaml

from metrics.compute.catalog import is_known_metric

from .problems import ImportFailed, Problem, ProblemList

SPEC_MAX_BYTES = 1_000_000
LEVELS = ("nominal", "ordinal", "interval", "ratio")
KINDS = ("rating", "pairwise")
RESERVED_SLUGS = {"import", "new"}
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
SPEC_FIELDS = {
    "name", "slug", "kind", "instructions", "overlap", "baseline", "criteria", "metrics",
    "composite", "systems", "options",
}
CRITERION_FIELDS = {"key", "label", "help", "help_text", "min", "max", "labels", "level",
                    "required"}
SYSTEM_FIELDS = {"name", "attributes", "training_time_s", "gpu_memory_mb"}


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    label: str
    scale_min: float
    scale_max: float
    level: str = "ordinal"
    help_text: str = ""
    scale_labels: dict[str, str] = field(default_factory=dict)
    required: bool = True


@dataclass(frozen=True)
class SystemSpec:
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    training_time_s: float | None = None
    gpu_memory_mb: float | None = None


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    slug: str
    kind: str
    instructions: str
    overlap: int
    baseline: str | None
    criteria: tuple[CriterionSpec, ...]
    metrics: tuple[str, ...]
    composite: dict[str, float]
    systems: tuple[SystemSpec, ...]
    options: dict[str, Any]
    line_of: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


def _line_map(text: str) -> dict[str, int]:
    """Map field paths (`criteria[1].max`) to 1-based lines using YAML's node marks."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = f"{path}.{key_node.value}" if path else str(key_node.value)
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    if root is not None:
        walk(root, "")
    return lines


def spec_parse(stream: IO[bytes], name: str) -> CampaignSpec:
    """Read and validate a spec; raise ImportFailed listing every problem found."""
    raw = stream.read(SPEC_MAX_BYTES + 1)
    if len(raw) > SPEC_MAX_BYTES:
        raise ImportFailed([Problem(name, 1, f"spec larger than {SPEC_MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFailed([Problem(name, line, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})")]) \
            from None
    if not text.strip():
        raise ImportFailed([Problem(name, 1, "file is empty")])
    data = _load(text, name)
    return spec_validate(data, name, _line_map(text))


def _load(text: str, name: str) -> Any:
    if name.lower().endswith(".json") or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFailed(
                [Problem(name, exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno}")]
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ImportFailed([Problem(name, line, f"invalid YAML: {problem}")]) from None


def spec_validate(data: Any, name: str, line_of: dict[str, int] | None = None) -> CampaignSpec:
    """Validate a decoded spec (e.g. from the API) into a CampaignSpec."""
    line_of = line_of or {}
    problems = ProblemList()

    def problem(path: str, message: str) -> None:
        line = line_of.get(path) or line_of.get(path.rsplit(".", 1)[0].split("[")[0]) or 1
        problems.add(Problem(name, line, message, field=path))

    if not isinstance(data, dict):
        raise ImportFailed([Problem(name, 1, "the spec must be an object (a mapping)")])
    for key in sorted(set(data) - SPEC_FIELDS):
        problem(key, "unknown field")

    spec_name = _string(data, "name", problem, required=True, max_length=200)
    slug = _string(data, "slug", problem, required=True, max_length=100)
    if slug and not SLUG_RE.match(slug):
        problem("slug", "use letters, digits, '-' or '_' only")
    elif slug in RESERVED_SLUGS:
        problem("slug", f"{slug!r} is reserved; choose another")
    kind = _string(data, "kind", problem) or "rating"
    if kind not in KINDS:
        problem("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    instructions = _string(data, "instructions", problem) or ""
    overlap = data.get("overlap", 3)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1:
        problem("overlap", f"must be a whole number ≥ 1, got {json.dumps(overlap)}")
        overlap = 1
    baseline = _string(data, "baseline", problem)

    criteria = _criteria(data.get("criteria"), problem)
    keys = {c.key for c in criteria}

    metrics_raw = data.get("metrics", [])
    metrics: list[str] = []
    if not isinstance(metrics_raw, list):
        problem("metrics", "expected a list of metric names")
    else:
        for index, metric in enumerate(metrics_raw):
            if not isinstance(metric, str) or not _metric_known(metric):
                problem(f"metrics[{index}]", f"unknown metric {json.dumps(metric)}")
            elif metric in metrics:
                problem(f"metrics[{index}]", f"{metric!r} listed twice")
            else:
                metrics.append(metric)

    composite: dict[str, float] = {}
    composite_raw = data.get("composite", {})
    if not isinstance(composite_raw, dict):
        problem("composite", "expected an object of weights")
    else:
        for key, weight in composite_raw.items():
            if key not in keys and key not in metrics:
                problem(f"composite.{key}", "not a criterion or a metric of this campaign")
            elif isinstance(weight, bool) or not isinstance(weight, int | float):
                problem(f"composite.{key}", f"weight must be a number, got {json.dumps(weight)}")
            else:
                composite[key] = float(weight)

    systems = _systems(data.get("systems", []), problem)
    options = data.get("options", {})
    if not isinstance(options, dict):
        problem("options", "expected an object")
        options = {}

    problems.raise_if_any()
    return CampaignSpec(
        name=spec_name or "", slug=slug or "", kind=kind, instructions=instructions,
        overlap=overlap, baseline=baseline, criteria=tuple(criteria), metrics=tuple(metrics),
        composite=composite, systems=tuple(systems), options=options, line_of=line_of,
    )


def _metric_known(name: str) -> bool:
    """A built-in metric name, or a custom metric registered from settings."""
    if is_known_metric(name):
        return True
    from metrics.compute.automatic import REGISTRY

    return name in REGISTRY


def _string(data: dict[str, Any], key: str, problem: Any, *, required: bool = False,
            max_length: int | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            problem(key, "missing")
        return None
    if not isinstance(value, str):
        problem(key, f"expected a string, got {json.dumps(value)}")
        return None
    if required and not value.strip():
        problem(key, "is empty")
        return None
    if max_length is not None and len(value) > max_length:
        problem(key, f"longer than {max_length} characters")
        return None
    return value


def _criteria(raw: Any, problem: Any) -> list[CriterionSpec]:
    if raw is None:
        problem("criteria", "missing: a campaign needs at least one criterion")
        return []
    if not isinstance(raw, list) or not raw:
        problem("criteria", "must be a non-empty list")
        return []
    result: list[CriterionSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        path = f"criteria[{index}]"
        if not isinstance(entry, dict):
            problem(path, "expected an object")
            continue
        for key in sorted(set(entry) - CRITERION_FIELDS):
            problem(f"{path}.{key}", "unknown field")
        key = entry.get("key")
        if not isinstance(key, str) or not SLUG_RE.match(key) or len(key) > 64:
            problem(f"{path}.key", "missing, longer than 64 characters, or not a slug "
                                   "(letters, digits, '-', '_')")
            continue
        if key in seen:
            problem(f"{path}.key", f"duplicate criterion {key!r}")
            continue
        seen.add(key)
        bounds = []
        for bound, default in (("min", 1), ("max", 5)):
            value = entry.get(bound, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                problem(f"{path}.{bound}", f"must be a number, got {json.dumps(value)}")
                value = None
            bounds.append(value)
        low, high = bounds
        if low is not None and high is not None and low >= high:
            problem(f"{path}.max", f"must be greater than min ({high:g} ≤ {low:g})")
            continue
        if low is None or high is None:
            continue
        level = entry.get("level", "ordinal")
        if level not in LEVELS:
            problem(f"{path}.level", f"must be one of {', '.join(LEVELS)}, got {json.dumps(level)}")
            continue
        labels = entry.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            problem(f"{path}.labels", "expected an object of value → label text")
            labels = {}
        label = entry.get("label", key)
        if not isinstance(label, str) or len(label) > 200:
            problem(f"{path}.label", "expected a string of at most 200 characters")
            label = key
        help_text = entry.get("help_text", entry.get("help", ""))
        required = entry.get("required", True)
        if not isinstance(required, bool):
            problem(f"{path}.required", "expected true or false")
            required = True
        result.append(CriterionSpec(
            key=key, label=label, scale_min=float(low), scale_max=float(high), level=level,
            help_text=str(help_text), scale_labels={str(k): v for k, v in labels.items()},
            required=required,
        ))
    return result


def _systems(raw: Any, problem: Any) -> list[SystemSpec]:
    if not isinstance(raw, list):
        problem("systems", "expected a list of systems")
        return []
    result: list[SystemSpec] = []
    for index, entry in enumerate(raw):
        path = f"systems[{index}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if (not isinstance(entry, dict) or not isinstance(entry.get("name"), str)
                or not entry["name"].strip() or len(entry["name"]) > 200):
            problem(path, "expected an object with a name of 1 to 200 characters")
            continue
        for key in sorted(set(entry) - SYSTEM_FIELDS):
            problem(f"{path}.{key}", "unknown field")
        attributes = entry.get("attributes", {})
        if not isinstance(attributes, dict):
            problem(f"{path}.attributes", "expected an object")
            attributes = {}
        facts = {}
        for fact in ("training_time_s", "gpu_memory_mb"):
            value = entry.get(fact)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or value < 0):
                problem(f"{path}.{fact}", "expected a number ≥ 0")
                value = None
            facts[fact] = None if value is None else float(value)
        result.append(SystemSpec(name=entry["name"], attributes=attributes, **facts))
    return result
