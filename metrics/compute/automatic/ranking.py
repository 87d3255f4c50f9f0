"""Ranking metrics over an output's `ranking` (doc ids, best first) and the item's `relevance`.

Each metric is a mean over items (records). Relevance grades > 0 count as relevant for MAP
and MRR. A judged document missing from the ranking counts as ranked after the whole list;
unjudged ranked documents have relevance 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from sklearn.metrics import ndcg_score

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    library_versions,
    missing,
    segment_mean,
)

RANK_REL = frozenset({Need.RANKING, Need.RELEVANCE})


def _usable(records: Sequence[OutputRecord]) -> tuple[list[int], str | None]:
    if not records:
        return [], "no outputs"
    if all(not r.relevance for r in records):
        return [], "no relevance judgments"
    idx = [i for i, r in enumerate(records) if r.relevance and r.ranking is not None]
    return idx, None if idx else "no rankings"


def _ranked_lists(record: OutputRecord) -> tuple[list[float], list[float]]:
    """Gains and sklearn scores: ranked docs first, then judged-but-unranked docs.

    Unranked judged docs get scores below every ranked doc, least relevant first, so they
    never help the system (ties would give them averaged gain).
    """
    relevance = {str(k): float(v) for k, v in (record.relevance or {}).items()}
    ranking = list(dict.fromkeys(str(d) for d in record.ranking or ()))
    unranked = sorted((d for d in relevance if d not in set(ranking)), key=lambda d: relevance[d])
    docs = ranking + unranked
    gains = [relevance.get(d, 0.0) for d in docs]
    scores = [float(len(docs) - pos) for pos in range(len(docs))]
    return gains, scores


def ndcg_compute(name: str, k: int | None, records: Sequence[OutputRecord]) -> MetricResult:
    """Mean NDCG@k over items, sklearn.metrics.ndcg_score per item (Järvelin & Kekäläinen 2002).

    An item with fewer than two documents has no NDCG (segment None).
    """
    idx, reason = _usable(records)
    if reason:
        return missing(name, reason, len(records))
    segments: list[float | None] = [None] * len(records)
    for i in idx:
        gains, scores = _ranked_lists(records[i])
        if len(gains) >= 2 and min(gains) >= 0:
            segments[i] = float(ndcg_score([gains], [scores], k=k))
    value = segment_mean(segments)
    return MetricResult(
        name=name, value=value, segments=tuple(segments),
        details={"k": k, "n": sum(s is not None for s in segments),
                 "versions": library_versions("scikit-learn")},
        reason=None if value is not None else "no item with two or more judged documents",
    )


@lru_cache(maxsize=64)
def ndcg_spec(k: int | None) -> MetricSpec:
    """The spec of `ndcg@k` (or `ndcg` over the whole list when k is None)."""
    name = "ndcg" if k is None else f"ndcg@{k}"

    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        return ndcg_compute(name, k, records)

    return MetricSpec(name, RANK_REL, (0.0, 1.0), True, True, compute)


def average_precision(ranking: Sequence[str], relevant: set[str]) -> float:
    """AP = Σ_k P@k·rel(k) / |relevant| (TREC non-interpolated average precision)."""
    hits = np.array([doc in relevant for doc in dict.fromkeys(ranking)], dtype=float)
    if not hits.size:
        return 0.0
    precision_at_k = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(np.sum(precision_at_k * hits) / len(relevant))


def reciprocal_rank(ranking: Sequence[str], relevant: set[str]) -> float:
    """RR = 1 / rank of the first relevant document, 0 when none is ranked."""
    for pos, doc in enumerate(ranking, start=1):
        if doc in relevant:
            return 1.0 / pos
    return 0.0


def _binary(name: str, func: Callable[[Sequence[str], set[str]], float]
            ) -> Callable[[Sequence[OutputRecord], MetricOptions], MetricResult]:
    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        idx, reason = _usable(records)
        if reason:
            return missing(name, reason, len(records))
        segments: list[float | None] = [None] * len(records)
        for i in idx:
            relevant = {str(d) for d, g in (records[i].relevance or {}).items() if g > 0}
            if relevant:  # an item without relevant documents has no AP/RR
                segments[i] = func([str(d) for d in records[i].ranking or ()], relevant)
        value = segment_mean(segments)
        return MetricResult(
            name=name, value=value, segments=tuple(segments),
            details={"n": sum(s is not None for s in segments),
                     "versions": library_versions("numpy")},
            reason=None if value is not None else "no item with a relevant document",
        )

    compute.__doc__ = f"Mean over items of {func.__name__} (relevance grade > 0 is relevant)."
    return compute


SPECS: tuple[MetricSpec, ...] = (
    ndcg_spec(None),
    MetricSpec("map", RANK_REL, (0.0, 1.0), True, True, _binary("map", average_precision)),
    MetricSpec("mrr", RANK_REL, (0.0, 1.0), True, True, _binary("mrr", reciprocal_rank)),
)
