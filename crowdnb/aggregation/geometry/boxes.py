"""Bounding boxes: match across workers by IoU, fuse, keep the boxes enough workers drew."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crowdnb.aggregation.base import StructuredAggregator
from crowdnb.aggregation.geometry.shapes import box_corners, box_iou, match_across_workers, weighted_vote


class BoxAggregator(StructuredAggregator):
    """Combine each task's boxes (labels ``[{"label", "x", "y", "w", "h"}, ...]``, as the
    ``bbox`` kind stores them).

    Boxes of different workers are matched into objects by IoU (at least `iou_threshold`,
    one-to-one per worker, whatever their classes); an object drawn by fewer than `min_workers`
    workers is dropped; the kept object's corners are the skill-weighted mean of its boxes' and
    its class the skill-weighted vote.

    Each output box carries ``n_workers`` (how many drew it) and ``agreement``: the mean, over
    all of the task's workers, of the IoU of their box with the fused one (0 for a worker who
    drew none), so 1 means every worker drew exactly this box. A task's confidence is the mean
    agreement of its boxes (1 when no box was kept and no worker drew any; 0 when boxes were
    drawn but none kept).
    """

    name: ClassVar[str] = "boxes"

    def __init__(self, iou_threshold: float = 0.5, min_workers: int = 2) -> None:
        self.iou_threshold = iou_threshold
        self.min_workers = min_workers

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        corners = [np.array([box_corners(b) for b in boxes]).reshape(-1, 4) for boxes in labels]

        def iou(members: list[tuple[int, int]], shape: tuple[int, int]) -> float:
            fused = np.mean([corners[w][j] for w, j in members], axis=0)
            return float(box_iou(fused, corners[shape[0]][shape[1]])[0, 0])

        clusters = match_across_workers(labels, iou, self.iou_threshold)
        min_workers = min(self.min_workers, len(workers))
        out = []
        for cluster in clusters:
            if len(cluster.members) < min_workers:
                continue
            w = np.array([weights[i] for i, _ in cluster.members])
            boxes = np.array([corners[i][j] for i, j in cluster.members])
            fused = (w[:, None] * boxes).sum(axis=0) / w.sum() if w.sum() > 0 else boxes.mean(axis=0)
            label, _ = weighted_vote([labels[i][j]["label"] for i, j in cluster.members], w.tolist())
            agreement = float(box_iou(fused, boxes).sum() / len(workers))
            x0, y0, x1, y1 = (float(v) for v in fused)
            out.append({"label": label, "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "n_workers": len(boxes), "agreement": agreement})
        out.sort(key=lambda b: (b["y"], b["x"]))
        if not out:
            return out, float(not any(labels))
        return out, float(np.mean([b["agreement"] for b in out]))
