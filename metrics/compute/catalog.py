"""The metric names a campaign may ask for (DESIGN.md §4), as plain data."""

from __future__ import annotations

import re

METRIC_NAMES: frozenset[str] = frozenset(
    """
    bleu chrf chrf++ ter rouge1 rouge2 rougeL rougeLsum meteor perplexity lm_perplexity exact_match
    accuracy precision_macro recall_macro f1_macro precision_micro recall_micro f1_micro
    precision_weighted recall_weighted f1_weighted roc_auc sensitivity specificity
    mse rmse mae r2
    hamming_loss jaccard_samples jaccard_macro subset_accuracy
    ndcg map mrr
    iou map_coco
    sharpe max_drawdown
    latency_p50_ms latency_p95_ms tokens_per_s
    """.split()
)

_PARAMETRIC = re.compile(r"^ndcg@[1-9][0-9]*$")


def is_known_metric(name: str, custom: frozenset[str] = frozenset()) -> bool:
    """True for a built-in metric name, `ndcg@K` with K ≥ 1, or a registered custom name."""
    return name in METRIC_NAMES or bool(_PARAMETRIC.match(name)) or name in custom
