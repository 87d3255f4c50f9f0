"""A user's custom metric, as the README shows it: mean output length in words."""

from collections.abc import Sequence

import numpy as np

from metrics.compute.automatic import OutputRecord, custom_metric


@custom_metric(name="mean_words", needs=["text"], value_range=(0, float("inf")),
               higher_is_better=False)
def mean_words(records: Sequence[OutputRecord]) -> float | None:
    """Mean number of whitespace-separated words per output."""
    if not records:
        return None
    return float(np.mean([len(r.text.split()) for r in records]))
