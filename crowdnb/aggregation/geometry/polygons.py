"""Polygons: match across workers by IoU, then choose the most central outline or vote per pixel."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from crowdnb.aggregation.base import StructuredAggregator
from crowdnb.aggregation.geometry.shapes import RASTER, mask_iou, match_across_workers, polygon_masks, weighted_vote


class PolygonAggregator(StructuredAggregator):
    """Combine each task's polygons (labels ``[{"label", "points": [[x, y], ...]}, ...]``, as
    the ``polygon`` kind stores them).

    Polygons are rasterized (`raster` cells per side over the shapes' joint bounding box) and
    matched into objects by IoU as boxes are; objects drawn by fewer than `min_workers` workers
    are dropped. For each object, ``method="choice"`` keeps the outline with the largest
    skill-weighted mean IoU with the others; ``method="vote"`` builds the consensus region (the
    cells inside for more than half of the skill weight) and keeps the outline that best
    matches it. The class is the skill-weighted vote. ``agreement`` is the mean IoU, over all
    the task's workers, of their outline with the kept one (0 for a worker who drew none).
    """

    name: ClassVar[str] = "polygons"

    def __init__(
        self, method: Literal["choice", "vote"] = "choice", iou_threshold: float = 0.5, min_workers: int = 2, raster: int = RASTER
    ) -> None:
        self.method = method
        self.iou_threshold = iou_threshold
        self.min_workers = min_workers
        self.raster = raster

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        if self.method not in ("choice", "vote"):
            raise ValueError(f"method must be 'choice' or 'vote', got {self.method!r}")
        flat = [(w, j) for w, shapes in enumerate(labels) for j in range(len(shapes))]
        if not flat:
            return [], 1.0
        masks = polygon_masks([np.asarray(labels[w][j]["points"], dtype=float) for w, j in flat], self.raster)
        position = {key: i for i, key in enumerate(flat)}
        ious = mask_iou(masks)

        def iou(members: list[tuple[int, int]], shape: tuple[int, int]) -> float:
            return float(np.mean([ious[position[m], position[shape]] for m in members]))

        min_workers = min(self.min_workers, len(workers))
        out = []
        for cluster in match_across_workers(labels, iou, self.iou_threshold):
            if len(cluster.members) < min_workers:
                continue
            rows = [position[m] for m in cluster.members]
            w = np.array([weights[i] for i, _ in cluster.members])
            if self.method == "choice":
                pair = ious[np.ix_(rows, rows)]
                score = (pair * w[None, :]).sum(axis=1) - w * pair.diagonal()
                best = int(np.argmax(score))
            else:
                consensus = (w[:, None, None] * masks[rows]).sum(axis=0) > w.sum() / 2
                best = int(np.argmax(mask_iou(np.concatenate([consensus[None], masks[rows]]))[0, 1:]))
            chosen_w, chosen_j = cluster.members[best]
            label, _ = weighted_vote([labels[i][j]["label"] for i, j in cluster.members], w.tolist())
            agreement = float(ious[rows[best], rows].sum() / len(workers))
            out.append({"label": label, "points": labels[chosen_w][chosen_j]["points"], "n_workers": len(rows), "agreement": agreement})
        if not out:
            return out, 0.0
        return out, float(np.mean([p["agreement"] for p in out]))
