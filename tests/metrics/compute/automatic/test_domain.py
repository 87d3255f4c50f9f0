"""Boxes (IoU, COCO mAP), finance (Sharpe, drawdown) and operational metrics, hand-checked."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metrics.compute.automatic import MetricOptions, OutputRecord, metric_compute
from metrics.compute.automatic.boxes import COCO_IOU_THRESHOLDS, iou_matrix, matched_iou

GOLD = (0.0, 0.0, 10.0, 10.0)


def test_iou_hand_checked() -> None:
    # overlap 5x5 = 25, union 100 + 100 - 25 = 175
    assert iou_matrix([(5.0, 5.0, 15.0, 15.0)], [GOLD])[0, 0] == pytest.approx(25 / 175)
    assert iou_matrix([(20.0, 20.0, 30.0, 30.0)], [GOLD])[0, 0] == 0.0


def test_matched_iou_penalizes_misses_and_extras() -> None:
    # one perfect match plus one extra prediction: (1 + 0) / max(2, 1)
    assert matched_iou([GOLD, (50.0, 50.0, 60.0, 60.0)], [GOLD]) == pytest.approx(0.5)
    assert matched_iou([], [GOLD]) == 0.0
    assert matched_iou([], []) is None


def test_coco_thresholds_are_point_five_to_point_nine_five() -> None:
    assert np.round(COCO_IOU_THRESHOLDS, 2).tolist() == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
                                                         0.85, 0.9, 0.95]


@pytest.mark.parametrize(("records", "expected"), [
    # IoU 0.72: a true positive at 5 of the 10 thresholds (.50–.70), AP 1 there, 0 above
    ([OutputRecord(boxes=((0.0, 0.0, 10.0, 7.2),), confidence=(0.9,), gold_boxes=(GOLD,))], 0.5),
    # a higher-confidence false positive first: precision 1/2 at full recall, every threshold
    ([OutputRecord(boxes=((50.0, 50.0, 60.0, 60.0), GOLD), confidence=(0.9, 0.8),
                   gold_boxes=(GOLD,))], 0.5),
    # one of two gold boxes found: recall points 0..0.50 (51 of 101) have precision 1
    ([OutputRecord(boxes=(GOLD,), confidence=(0.9,),
                   gold_boxes=(GOLD, (20.0, 20.0, 30.0, 30.0)))], 51 / 101),
    # two images, all perfect
    ([OutputRecord(boxes=(GOLD,), confidence=(0.3,), gold_boxes=(GOLD,)),
      OutputRecord(boxes=(GOLD,), confidence=(0.6,), gold_boxes=(GOLD,))], 1.0),
])
def test_map_coco_hand_checked_101_point_ap(records: list[OutputRecord], expected: float) -> None:
    assert metric_compute("map_coco", records).value == pytest.approx(expected)


def test_map_coco_needs_confidences_and_gold() -> None:
    no_conf = [OutputRecord(boxes=(GOLD,), gold_boxes=(GOLD,))]
    assert metric_compute("map_coco", no_conf).reason == "every predicted box needs a confidence"
    assert metric_compute("map_coco", [OutputRecord(boxes=(GOLD,))]).reason == "no gold boxes"
    empty_gold = [OutputRecord(boxes=(), confidence=(), gold_boxes=())]
    assert metric_compute("map_coco", empty_gold).reason == "no gold boxes"


def test_sharpe_hand_checked() -> None:
    # mean 0.02, sample std 0.01·√2 -> √2; annualized over 12 periods -> √2·√12
    records = [OutputRecord(returns=(0.01, 0.03))]
    assert metric_compute("sharpe", records).value == pytest.approx(math.sqrt(2))
    annual = metric_compute("sharpe", records, MetricOptions(periods_per_year=12))
    assert annual.value == pytest.approx(math.sqrt(2) * math.sqrt(12))


@pytest.mark.parametrize("returns", [(0.01, 0.01, 0.01), (0.05,)])
def test_sharpe_undefined_for_constant_or_single_returns(returns: tuple[float, ...]) -> None:
    result = metric_compute("sharpe", [OutputRecord(returns=returns)])
    assert result.value is None and result.reason


def test_max_drawdown_hand_checked() -> None:
    # wealth 1 -> 1.1 -> 0.55 -> 0.66: peak 1.1, trough 0.55 -> 50%
    result = metric_compute("max_drawdown", [OutputRecord(returns=(0.1, -0.5, 0.2)),
                                             OutputRecord(returns=(0.1, 0.2))])
    assert result.segments == pytest.approx([0.5, 0.0])
    assert result.value == pytest.approx(0.25)


def test_latency_percentiles_equal_numpy() -> None:
    latencies = [120.0, 80.0, 400.0, 95.0, 101.0, 3000.0]
    records = [OutputRecord(latency_ms=v, tokens=10) for v in latencies] + [OutputRecord()]
    assert metric_compute("latency_p50_ms", records).value == pytest.approx(
        np.percentile(latencies, 50))
    assert metric_compute("latency_p95_ms", records).value == pytest.approx(
        np.percentile(latencies, 95))


def test_tokens_per_second_pools_tokens_and_time() -> None:
    # 10 tokens in 0.5 s and 30 tokens in 1.5 s -> 40 / 2 s
    records = [OutputRecord(latency_ms=500, tokens=10), OutputRecord(latency_ms=1500, tokens=30)]
    result = metric_compute("tokens_per_s", records)
    assert result.value == pytest.approx(20.0)
    assert result.segments == pytest.approx([20.0, 20.0])


@pytest.mark.parametrize(("name", "reason"), [
    ("iou", "no gold boxes"), ("map_coco", "no gold boxes"), ("sharpe", "no returns"),
    ("max_drawdown", "no returns"), ("latency_p50_ms", "no latencies"),
    ("latency_p95_ms", "no latencies"), ("tokens_per_s", "no token counts with latencies"),
])
def test_domain_metrics_without_data_give_reason(name: str, reason: str) -> None:
    result = metric_compute(name, [OutputRecord(text="x")])
    assert (result.value, result.reason) == (None, reason)
    assert metric_compute(name, []).reason == "no outputs"
