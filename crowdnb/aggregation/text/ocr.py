"""OCR: text regions matched across workers by IoU, each region's text by ROVER."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from crowdnb.aggregation.base import StructuredAggregator
from crowdnb.aggregation.geometry.shapes import box_iou, match_across_workers
from crowdnb.aggregation.text.rover import rover


def _corners(region: dict[str, Any]) -> np.ndarray:
    if "quad" in region:
        quad = np.asarray(region["quad"], dtype=float)
        return np.array([*quad.min(axis=0), *quad.max(axis=0)])
    box = region["box"]
    return np.array([box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]], dtype=float)


class OCRAggregator(StructuredAggregator):
    """Combine OCR regions (labels ``[{"box": {"x", "y", "w", "h"}, "text"}, ...]`` or with
    ``"quad"`` corners, as the ``ocr`` kind stores them).

    Regions are matched across workers by the IoU of their bounding boxes (at least
    `iou_threshold`); a region fewer than `min_workers` workers drew is dropped. A kept region's
    box is the skill-weighted mean (a quad: the member quad nearest that mean) and its text the
    ROVER vote of the members' transcriptions (character-level for CJK). ``agreement`` is the
    ROVER confidence times the share of workers who drew the region; a task's confidence the
    mean over regions.
    """

    name: ClassVar[str] = "ocr"

    def __init__(self, iou_threshold: float = 0.5, min_workers: int = 2, level: Literal["auto", "words", "chars"] = "auto") -> None:
        self.iou_threshold = iou_threshold
        self.min_workers = min_workers
        self.level = level

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        corners = [[_corners(r) for r in regions] for regions in labels]

        def iou(members: list[tuple[int, int]], shape: tuple[int, int]) -> float:
            fused = np.mean([corners[w][j] for w, j in members], axis=0)
            return float(box_iou(fused, corners[shape[0]][shape[1]])[0, 0])

        min_workers = min(self.min_workers, len(workers))
        out = []
        for cluster in match_across_workers(labels, iou, self.iou_threshold):
            if len(cluster.members) < min_workers:
                continue
            w = np.array([weights[i] for i, _ in cluster.members])
            boxes = np.array([corners[i][j] for i, j in cluster.members])
            fused = (w[:, None] * boxes).sum(axis=0) / w.sum() if w.sum() > 0 else boxes.mean(axis=0)
            text, share = rover([labels[i][j]["text"] for i, j in cluster.members], w, self.level)
            region: dict[str, Any] = {"text": text}
            first_w, first_j = cluster.members[0]
            if "quad" in labels[first_w][first_j]:
                nearest = int(np.argmin(np.abs(boxes - fused).sum(axis=1)))
                i, j = cluster.members[nearest]
                region["quad"] = labels[i][j]["quad"]
            else:
                x0, y0, x1, y1 = (float(v) for v in fused)
                region["box"] = {"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}
            region["n_workers"] = len(cluster.members)
            region["agreement"] = float(share * len(cluster.members) / len(workers))
            out.append(region)
        if not out:
            return out, float(not any(labels))
        return out, float(np.mean([r["agreement"] for r in out]))
