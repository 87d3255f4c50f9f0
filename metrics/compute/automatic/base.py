"""Metric declarations, input and result dataclasses, and the metric registry.

Missing-data rule (all metrics): a record that lacks one of a metric's inputs is skipped
(its segment value is None); when no record can feed the metric, the result's value is
None with a `reason` ("no references", "no logprobs", ...), never 0 and never an exception.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

Box = tuple[float, float, float, float]


class Need(StrEnum):
    """An input a metric reads from an OutputRecord."""

    TEXT = "text"
    REFERENCES = "references"
    LABEL = "label"
    PREDICTION = "prediction"
    SCORE = "score"
    LOGPROBS = "logprobs"
    RANKING = "ranking"
    RELEVANCE = "relevance"
    BOXES = "boxes"
    GOLD_BOXES = "gold_boxes"
    RETURNS = "returns"
    LATENCY = "latency_ms"
    TOKENS = "tokens"


@dataclass(frozen=True)
class OutputRecord:
    """One system output with its item's gold data, as plain values (no ORM objects)."""

    text: str | None = None
    references: tuple[str, ...] = ()
    label: Any = None
    prediction: Any = None
    score: float | Mapping[str, float] | None = None
    logprobs: tuple[float, ...] | None = None
    ranking: tuple[str, ...] | None = None
    relevance: Mapping[str, float] | None = None
    boxes: tuple[Box, ...] | None = None
    confidence: tuple[float, ...] | None = None
    gold_boxes: tuple[Box, ...] | None = None
    returns: tuple[float, ...] | None = None
    latency_ms: float | None = None
    tokens: int | None = None
    group: str | None = None
    item_id: str | None = None


@dataclass(frozen=True)
class MetricOptions:
    """Campaign-level settings that change how metrics are computed."""

    # sacrebleu tokenizer for BLEU (and METEOR's word split; non-13a also for ROUGE).
    tokenize: str = "13a"
    lowercase: bool = False
    # Porter stemming in rouge-score (English, tokenize="13a").
    use_stemmer: bool = True
    # NLTK data dir holding corpora/wordnet; None searches nltk.data.path (incl. NLTK_DATA).
    wordnet_dir: Path | None = None
    # Positive class for binary ROC-AUC/sensitivity/specificity; None: the greater of two.
    positive_label: str | None = None
    # Sharpe: risk-free return per period and the annualization factor √periods_per_year.
    risk_free: float = 0.0
    periods_per_year: float = 1.0
    # False skips sacrebleu's sentence-level scores (corpus value only, faster).
    segments: bool = True


@dataclass(frozen=True)
class MetricResult:
    """A metric's corpus value, optional per-record segment values and provenance details."""

    name: str
    value: float | None
    segments: tuple[float | None, ...] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None


MetricFunc = Callable[[Sequence[OutputRecord], MetricOptions], MetricResult]


@dataclass(frozen=True)
class MetricSpec:
    """A metric's declaration: name, needed inputs, range, direction and segment support."""

    name: str
    needs: frozenset[Need]
    value_range: tuple[float, float]
    higher_is_better: bool
    segment_level: bool
    func: MetricFunc
    custom: bool = False

    def compute(
        self, records: Sequence[OutputRecord], options: MetricOptions | None = None
    ) -> MetricResult:
        """Run the metric; `options` default to MetricOptions()."""
        return self.func(records, options or MetricOptions())


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (recorded with every result)."""
    return {name: metadata.version(name) for name in names}


def missing(name: str, reason: str, size: int = 0, **details: Any) -> MetricResult:
    """A result for a metric that cannot be computed: value None plus the reason.

    `size` > 0 gives `size` None segments (one per record) for segment-level metrics.
    """
    return MetricResult(
        name=name, value=None, segments=(None,) * size if size else None, details=details,
        reason=reason,
    )


def finite_or_none(value: float) -> float | None:
    """The value as float, or None when NaN/inf (an undefined value is never made up)."""
    value = float(value)
    return value if math.isfinite(value) else None


def segments_at(count: int, indices: Sequence[int],
                score: Callable[[int], float | None]) -> list[float | None]:
    """Segment values for `count` records: score(i) at the usable indices, None elsewhere."""
    segments: list[float | None] = [None] * count
    for i in indices:
        segments[i] = score(i)
    return segments


def segment_mean(segments: Sequence[float | None]) -> float | None:
    """Mean of the defined segment values, None when there are none."""
    defined = [s for s in segments if s is not None]
    return math.fsum(defined) / len(defined) if defined else None


_NDCG_AT = re.compile(r"^ndcg@([1-9][0-9]*)$")


class MetricRegistry:
    """Built-in and custom metric specs by name; `ndcg@K` is resolved on lookup."""

    def __init__(self, specs: Sequence[MetricSpec] = ()) -> None:
        self._specs: dict[str, MetricSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: MetricSpec) -> None:
        """Add a spec; a name already taken raises ValueError."""
        if spec.name in self._specs or _NDCG_AT.match(spec.name):
            raise ValueError(f"metric {spec.name!r} is already defined")
        self._specs[spec.name] = spec

    def names(self) -> frozenset[str]:
        """All registered names (without the parametric `ndcg@K`)."""
        return frozenset(self._specs)

    def get(self, name: str) -> MetricSpec:
        """The spec for `name` (incl. `ndcg@K`); unknown names raise KeyError."""
        if name in self._specs:
            return self._specs[name]
        match = _NDCG_AT.match(name)
        if match:
            from metrics.compute.automatic.ranking import ndcg_spec

            return ndcg_spec(int(match.group(1)))
        raise KeyError(f"unknown metric {name!r}")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._specs or bool(_NDCG_AT.match(name)))

    def copy(self) -> MetricRegistry:
        """An independent registry with the same specs."""
        return MetricRegistry(list(self._specs.values()))


def exp_or_none(x: float) -> float | None:
    """exp(x), or None where it overflows a float (a perplexity too large to represent)."""
    try:
        return math.exp(x)
    except OverflowError:
        return None
