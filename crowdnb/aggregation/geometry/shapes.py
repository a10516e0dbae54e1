"""Geometry helpers shared by the box, polygon and OCR aggregators and by agreement metrics:
IoU of boxes and polygons, and matching shapes across workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

RASTER = 64  # grid cells per side when polygons are rasterized


def box_corners(box: dict[str, float]) -> np.ndarray:
    """``{"x", "y", "w", "h"}`` as ``[x0, y0, x1, y1]``."""
    return np.array([box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]], dtype=float)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n x 4 corners) with every box in `b` (m x 4): an n x m matrix."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def polygon_masks(polygons: Sequence[np.ndarray], size: int = RASTER) -> np.ndarray:
    """Rasterize polygons (each k x 2 points) on one shared grid over their joint bounding box:
    a (len(polygons), size, size) boolean array, a cell in when its centre is (even-odd rule)."""
    points = np.concatenate(polygons)
    low, high = points.min(axis=0), points.max(axis=0)
    step = np.maximum(high - low, 1e-9) / size
    xs = low[0] + (np.arange(size) + 0.5) * step[0]
    ys = low[1] + (np.arange(size) + 0.5) * step[1]
    gx, gy = np.meshgrid(xs, ys)
    masks = np.zeros((len(polygons), size, size), dtype=bool)
    for i, polygon in enumerate(polygons):
        x0, y0 = polygon[:, 0], polygon[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
            crosses = (ay > gy) != (by > gy)
            with np.errstate(divide="ignore", invalid="ignore"):
                at = ax + (gy - ay) * (bx - ax) / (by - ay)
            masks[i] ^= crosses & (gx < at)
    return masks


def outline(shape: dict[str, Any]) -> np.ndarray:
    """A shape's outline (k x 2 points): a polygon's ``points``, an OCR region's ``quad``, or the
    four corners of a box (``x, y, w, h``, or an OCR region's ``box``)."""
    if "points" in shape or "quad" in shape:
        return np.asarray(shape.get("points", shape.get("quad")), dtype=float)
    x0, y0, x1, y1 = box_corners(shape.get("box", shape))
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def shape_iou(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> np.ndarray:
    """IoU of every shape in `a` with every shape in `b`: a len(a) x len(b) matrix. Shapes are
    boxes (``x, y, w, h``), OCR regions (``box`` or ``quad``) or polygons (``points``); boxes are
    compared exactly, a pair with an outline by rasterizing the two on their joint bounding box
    (only where their bounding boxes overlap: elsewhere the IoU is 0)."""
    if not any("points" in s or "quad" in s for s in [*a, *b]):
        corners = [np.array([box_corners(s.get("box", s)) for s in side]).reshape(-1, 4) for side in (a, b)]
        return box_iou(*corners)
    outlines = [[outline(s) for s in side] for side in (a, b)]
    bounds = [np.array([[*o.min(axis=0), *o.max(axis=0)] for o in side]).reshape(-1, 4) for side in outlines]
    out = np.zeros((len(a), len(b)))
    for i, j in zip(*np.nonzero(box_iou(*bounds) > 0), strict=True):
        out[i, j] = mask_iou(polygon_masks([outlines[0][i], outlines[1][j]]))[0, 1]
    return out


def all_matched(scores: np.ndarray, threshold: float) -> bool:
    """Whether two sets of shapes pair up one to one (rows with columns of `scores`, e.g. IoU,
    0 for pairs that must not match) with every pair scoring at least `threshold`."""
    n, m = scores.shape
    if n != m:
        return False
    good = scores >= threshold
    rows, cols = linear_sum_assignment(good, maximize=True)
    return bool(good[rows, cols].all())


def mask_iou(masks: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boolean masks (n x cells...): an n x n matrix."""
    flat = masks.reshape(len(masks), -1).astype(float)
    inter = flat @ flat.T
    area = flat.sum(axis=1)
    union = area[:, None] + area[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class Cluster:
    """Shapes that workers drew for the same object: (worker position, shape index) pairs."""

    members: list[tuple[int, int]] = field(default_factory=list)


def match_across_workers(
    shapes: Sequence[Sequence[object]], iou: Callable[[list[tuple[int, int]], tuple[int, int]], float], threshold: float
) -> list[Cluster]:
    """Group the shapes of several workers (``shapes[w]`` lists worker w's shapes) into objects.

    Workers are taken in turn; each worker's shapes are matched one-to-one (Hungarian
    assignment on IoU) to the objects found so far, a pair counting only at IoU >= `threshold`;
    unmatched shapes start new objects. `iou(members, shape)` scores a shape against an object.
    An object never holds two shapes of one worker.
    """
    clusters: list[Cluster] = []
    for w, drawn in enumerate(shapes):
        if not drawn:
            continue
        scores = np.array([[iou(c.members, (w, j)) for c in clusters] for j in range(len(drawn))]).reshape(len(drawn), len(clusters))
        matched: set[int] = set()
        if clusters:
            rows, cols = linear_sum_assignment(-scores)
            for j, c in zip(rows, cols, strict=True):
                if scores[j, c] >= threshold:
                    clusters[c].members.append((w, j))
                    matched.add(j)
        clusters.extend(Cluster([(w, j)]) for j in range(len(drawn)) if j not in matched)
    return clusters


def weighted_vote(values: Sequence[object], weights: Sequence[float]) -> tuple[object, float]:
    """The value with the largest total weight (ties: the first in sorted order of str) and its
    share of the weight."""
    totals: dict[object, float] = {}
    for value, weight in zip(values, weights, strict=True):
        totals[value] = totals.get(value, 0.0) + weight
    best = max(sorted(totals, key=str), key=lambda v: totals[v])
    total = sum(totals.values())
    return best, (totals[best] / total if total > 0 else 0.0)
