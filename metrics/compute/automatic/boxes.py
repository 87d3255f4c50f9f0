"""Box metrics: IoU and COCO-style mAP@[.5:.95] for single-class boxes [x1, y1, x2, y2].

mAP follows the COCO evaluation (Lin et al. 2014; pycocotools COCOeval, area "all", no
maxDets cap): for each IoU threshold t in 0.50, 0.55, …, 0.95, detections from all images
are sorted by confidence (descending, stable); each is matched greedily to the unmatched
gold box of its image with the highest IoU ≥ t (TP) or counted FP. With recall
R_k = TP_k / #gold and precision P_k = TP_k / k, the precision envelope
P̂_k = max_{j≥k} P_j is sampled at the 101 recall points r ∈ {0, 0.01, …, 1}:
p(r) = P̂ at the first k with R_k ≥ r, 0 if none. AP_t = mean p(r); mAP = mean_t AP_t.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from metrics.compute.automatic.base import (
    Box,
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    library_versions,
    missing,
    segment_mean,
    segments_at,
)

COCO_IOU_THRESHOLDS: np.ndarray = np.linspace(0.5, 0.95, 10)
COCO_RECALL_POINTS: np.ndarray = np.linspace(0.0, 1.0, 101)


def iou_matrix(boxes: Sequence[Box], gold: Sequence[Box]) -> np.ndarray:
    """Pairwise IoU = area(A∩B) / area(A∪B) (continuous coordinates, no +1 pixel)."""
    a = np.asarray(boxes, dtype=float).reshape(-1, 4)
    b = np.asarray(gold, dtype=float).reshape(-1, 4)
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2])
                    - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3])
                     - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def matched_iou(boxes: Sequence[Box], gold: Sequence[Box]) -> float | None:
    """Σ IoU of a one-to-one max-IoU matching (Hungarian, scipy) / max(#predicted, #gold).

    Missed gold boxes and extra predictions count 0; None when both lists are empty.
    """
    if not boxes and not gold:
        return None
    if not boxes or not gold:
        return 0.0
    overlaps = iou_matrix(boxes, gold)
    rows, cols = linear_sum_assignment(overlaps, maximize=True)
    return float(overlaps[rows, cols].sum() / max(len(boxes), len(gold)))


def _usable(records: Sequence[OutputRecord]) -> tuple[list[int], str | None]:
    if not records:
        return [], "no outputs"
    if all(r.gold_boxes is None for r in records):
        return [], "no gold boxes"
    idx = [i for i, r in enumerate(records) if r.gold_boxes is not None and r.boxes is not None]
    return idx, None if idx else "no predicted boxes"


def iou(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Mean over outputs of matched_iou(boxes, gold_boxes)."""
    idx, reason = _usable(records)
    if reason:
        return missing("iou", reason, len(records))
    segments = segments_at(len(records), idx, lambda i: matched_iou(records[i].boxes or (),
                                                                    records[i].gold_boxes or ()))
    value = segment_mean(segments)
    return MetricResult(name="iou", value=value, segments=tuple(segments),
                        details={"matching": "hungarian, / max(#pred, #gold)",
                                 "versions": library_versions("numpy", "scipy")},
                        reason=None if value is not None else "no boxes at all")


def coco_average_precision(
    images: Sequence[tuple[Sequence[Box], Sequence[float], Sequence[Box]]], threshold: float
) -> float | None:
    """101-point interpolated AP at one IoU threshold over (boxes, confidences, gold) images."""
    n_gold = sum(len(gold) for _, _, gold in images)
    if n_gold == 0:
        return None
    detections = [(conf, img, det) for img, (_, confs, _) in enumerate(images)
                  for det, conf in enumerate(confs)]
    # Stable sort by descending confidence, as pycocotools' np.argsort(-scores, kind="mergesort").
    order = np.argsort([-d[0] for d in detections], kind="mergesort")
    overlaps = [iou_matrix(boxes, gold) for boxes, _, gold in images]
    taken = [np.zeros(len(gold), dtype=bool) for _, _, gold in images]
    tp = np.zeros(len(detections))
    for rank, d in enumerate(order):
        _, img, det = detections[d]
        if not taken[img].size:
            continue  # an image without gold boxes: every detection there is a false positive
        candidates = np.where(~taken[img], overlaps[img][det], -1.0)
        if candidates.max() >= threshold:
            best = int(np.argmax(candidates))
            taken[img][best] = True
            tp[rank] = 1.0
    tp_cum = np.cumsum(tp)
    recall = tp_cum / n_gold
    precision = tp_cum / np.arange(1, len(tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    positions = np.searchsorted(recall, COCO_RECALL_POINTS, side="left")
    sampled = np.zeros(COCO_RECALL_POINTS.size)
    reached = positions < envelope.size
    sampled[reached] = envelope[positions[reached]]
    return float(np.mean(sampled))


def map_coco(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """COCO mAP@[.5:.95] over all outputs' boxes pooled as one dataset (see module doc)."""
    idx, reason = _usable(records)
    if reason:
        return missing("map_coco", reason)
    images: list[tuple[Sequence[Box], Sequence[float], Sequence[Box]]] = []
    for i in idx:
        boxes = records[i].boxes or ()
        confidence = records[i].confidence
        if confidence is None or len(confidence) != len(boxes):
            return missing("map_coco", "every predicted box needs a confidence")
        images.append((boxes, confidence, records[i].gold_boxes or ()))
    per_threshold = [coco_average_precision(images, float(t)) for t in COCO_IOU_THRESHOLDS]
    if per_threshold[0] is None:
        return missing("map_coco", "no gold boxes")
    values = [float(v or 0.0) for v in per_threshold]
    return MetricResult(
        name="map_coco", value=float(np.mean(values)),
        details={"ap_per_iou": dict(zip([round(float(t), 2) for t in COCO_IOU_THRESHOLDS],
                                        values, strict=True)),
                 "ap50": values[0], "ap75": values[5], "recall_points": 101,
                 "versions": library_versions("numpy")},
    )


BOXES = frozenset({Need.BOXES, Need.GOLD_BOXES})
SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("iou", BOXES, (0.0, 1.0), True, True, iou),
    MetricSpec("map_coco", BOXES, (0.0, 1.0), True, False, map_coco),
)
