"""Keypoints: per point, a visibility vote and a robust average of the placed positions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crowdnb.aggregation.base import StructuredAggregator


class KeypointAggregator(StructuredAggregator):
    """Combine each task's keypoints (labels ``[{"name", "x", "y", "visible"}, ...]``, as the
    ``keypoints`` kind stores them).

    Per point: visible if more than half of the skill weight says so (ties: visible). The
    position is a robust average of the visible placements: those farther from the median
    than ``max(outlier_px, outlier_mads * MAD)`` (MAD: median distance to the median) are
    rejected, the rest are averaged with skill weights. A point's ``agreement`` is the share of
    the weight that agrees on visibility, times the share of visible placements kept; a task's
    confidence is the mean over its points.
    """

    name: ClassVar[str] = "keypoints"

    def __init__(self, outlier_mads: float = 3.0, outlier_px: float = 5.0) -> None:
        self.outlier_mads = outlier_mads
        self.outlier_px = outlier_px

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        names = [p["name"] for p in labels[0]]
        out = []
        for k, name in enumerate(names):
            placed = [label[k] for label in labels]
            visible_votes = [bool(p["visible"]) for p in placed]
            total = weights.sum()
            shown = weights[np.array(visible_votes)].sum()
            visible = shown >= total / 2 if total > 0 else True
            vote_share = (shown if visible else total - shown) / total if total > 0 else 1.0
            if not visible:
                out.append({"name": name, "x": None, "y": None, "visible": False, "agreement": float(vote_share)})
                continue
            idx = np.flatnonzero(visible_votes)
            xy = np.array([[placed[i]["x"], placed[i]["y"]] for i in idx], dtype=float)
            centre = np.median(xy, axis=0)
            distance = np.linalg.norm(xy - centre, axis=1)
            limit = max(self.outlier_px, self.outlier_mads * float(np.median(distance)))
            keep = distance <= limit
            w = weights[idx][keep]
            x, y = (w[:, None] * xy[keep]).sum(axis=0) / w.sum() if w.sum() > 0 else xy[keep].mean(axis=0)
            out.append({"name": name, "x": float(x), "y": float(y), "visible": True, "agreement": float(vote_share * keep.mean())})
        return out, float(np.mean([p["agreement"] for p in out])) if out else 1.0


