"""Image geometry kinds: boxes, polygons, keypoints, and OCR regions with transcriptions.

Coordinates are image pixels (origin top-left, x right, y down), validated against the image
size recorded when the task was added.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any, ClassVar

import numpy as np

from crowdnb.aggregation.geometry import BoxAggregator, KeypointAggregator, PolygonAggregator
from crowdnb.aggregation.geometry.shapes import all_matched, shape_iou
from crowdnb.aggregation.methods import Estimator
from crowdnb.aggregation.text import OCRAggregator
from crowdnb.errors import LabelError
from crowdnb.kinds.base import Kind
from crowdnb.kinds.checks import (
    class_list,
    count,
    image_size,
    inside,
    items,
    known_class,
    no_options,
    number,
    point,
    record,
    text,
)
from crowdnb.media import IMAGE, Media

# Named point sets with skeleton edges (pairs of point names).
KEYPOINT_PRESETS: dict[str, dict[str, list[Any]]] = {
    "face": {
        "points": [
            "left_eye_outer", "left_eye_inner", "left_pupil", "right_eye_inner", "right_eye_outer",
            "right_pupil", "nose_tip", "mouth_left", "mouth_right",
        ],
        "skeleton": [
            ["left_eye_outer", "left_pupil"], ["left_pupil", "left_eye_inner"],
            ["right_eye_inner", "right_pupil"], ["right_pupil", "right_eye_outer"],
            ["left_eye_inner", "nose_tip"], ["right_eye_inner", "nose_tip"],
            ["nose_tip", "mouth_left"], ["nose_tip", "mouth_right"], ["mouth_left", "mouth_right"],
        ],
    },
    "coco17": {
        "points": [
            "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
            "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
            "left_knee", "right_knee", "left_ankle", "right_ankle",
        ],
        "skeleton": [
            ["left_ankle", "left_knee"], ["left_knee", "left_hip"], ["right_ankle", "right_knee"],
            ["right_knee", "right_hip"], ["left_hip", "right_hip"], ["left_shoulder", "left_hip"],
            ["right_shoulder", "right_hip"], ["left_shoulder", "right_shoulder"],
            ["left_shoulder", "left_elbow"], ["right_shoulder", "right_elbow"],
            ["left_elbow", "left_wrist"], ["right_elbow", "right_wrist"], ["left_eye", "right_eye"],
            ["nose", "left_eye"], ["nose", "right_eye"], ["left_eye", "left_ear"],
            ["right_eye", "right_ear"], ["left_ear", "left_shoulder"], ["right_ear", "right_shoulder"],
        ],
    },
}


def _box(value: Any, where: str, size: tuple[float, float] | None) -> dict[str, float]:
    x, y = number(value["x"], f"{where}.x"), number(value["y"], f"{where}.y")
    w, h = number(value["w"], f"{where}.w", positive=True), number(value["h"], f"{where}.h", positive=True)
    inside(x, y, where, size)
    inside(x + w, y + h, where, size)
    return {"x": x, "y": y, "w": w, "h": h}


def _same_shapes(label: list[dict[str, Any]], known: list[dict[str, Any]], threshold: float, key: str) -> bool:
    """Whether the shapes pair up one to one, each pair with IoU >= `threshold` and equal `key`
    (the class, or the normalized text of an OCR region)."""
    if len(label) != len(known):  # before any drawing: shapes pair up one to one or not at all
        return False
    same = np.array([[_value(a, key) == _value(b, key) for b in known] for a in label], dtype=float)
    return all_matched(shape_iou(label, known) * same.reshape(len(label), len(known)), threshold)


def _value(shape: dict[str, Any], key: str) -> Any:
    return normalized(shape[key]) if key == "text" else shape[key]


def normalized(text: str) -> str:
    """Text as compared on control tasks: Unicode NFKC, runs of whitespace as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class BBox(Kind):
    """Axis-aligned boxes, each with a class: ``[{"label", "x", "y", "w", "h"}, ...]``.

    On a control task, a label is right when its boxes pair up one to one with the known ones,
    each pair of the same class and with IoU at least `control_iou`.
    """

    aggregator: ClassVar[Estimator] = BoxAggregator
    control_iou: ClassVar[float] = 0.7

    name: ClassVar[str] = "bbox"
    media: ClassVar[Media] = IMAGE
    view: ClassVar[str] = "boxes"

    def make_config(self, *, classes: Any = None, **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        return {"classes": class_list(self.name, classes), "shape": "box", "transcribe": False}

    def options_of(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"classes": config["classes"]}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        size = image_size(payload)
        out = []
        for i, value in enumerate(items(label, "label")):
            where = f"boxes[{i}]"
            value = record(value, where, {"label", "x", "y", "w", "h"})
            out.append({"label": known_class(value["label"], config, f"{where}.label"), **_box(value, where, size)})
        return out

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        return _same_shapes(label, known, self.control_iou, "label")


class Polygon(Kind):
    """Closed polygons, each with a class: ``[{"label", "points": [[x, y], ...]}, ...]``.

    On a control task, a label is right when its polygons pair up one to one with the known
    ones, each pair of the same class and with IoU (rasterized) at least `control_iou`.
    """

    aggregator: ClassVar[Estimator] = PolygonAggregator
    control_iou: ClassVar[float] = 0.6

    name: ClassVar[str] = "polygon"
    media: ClassVar[Media] = IMAGE
    view: ClassVar[str] = "polygon"

    def make_config(self, *, classes: Any = None, **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        return {"classes": class_list(self.name, classes)}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        size = image_size(payload)
        out = []
        for i, value in enumerate(items(label, "label")):
            where = f"polygons[{i}]"
            value = record(value, where, {"label", "points"})
            points = [point(p, f"{where}.points[{j}]", size) for j, p in enumerate(items(value["points"], f"{where}.points"))]
            if len(points) < 3:
                raise LabelError(f"{where}.points: a polygon needs at least 3 points, got {len(points)}")
            out.append({"label": known_class(value["label"], config, f"{where}.label"), "points": points})
        return out

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        return _same_shapes(label, known, self.control_iou, "label")


class Keypoints(Kind):
    """A named point set per image; each point placed (x, y) or marked not visible.

    Label: ``[{"name", "x", "y", "visible"}, ...]`` in the project's point order; a point that
    is not visible has ``x`` and ``y`` null.

    On a control task, a label is right when every point has the known visibility and each
    visible one lies within `control_distance` times the object's size (the diagonal of the
    known visible points' bounding box; at least `control_min_px` pixels) of the known one.
    """

    aggregator: ClassVar[Estimator] = KeypointAggregator
    control_distance: ClassVar[float] = 0.1
    control_min_px: ClassVar[float] = 3.0

    name: ClassVar[str] = "keypoints"
    media: ClassVar[Media] = IMAGE
    view: ClassVar[str] = "keypoints"

    def make_config(
        self, *, preset: str | None = None, points: Any = None, skeleton: Any = None, **options: Any
    ) -> dict[str, Any]:
        no_options(self.name, options)
        if preset is not None:
            if not isinstance(preset, str) or preset not in KEYPOINT_PRESETS:
                raise ValueError(f"keypoints: unknown preset {preset!r}; presets: {sorted(KEYPOINT_PRESETS)}")
            points = points or KEYPOINT_PRESETS[preset]["points"]
            skeleton = skeleton if skeleton is not None else KEYPOINT_PRESETS[preset]["skeleton"]
        names = class_list(self.name, points)
        if skeleton is not None and not isinstance(skeleton, (list, tuple)):
            raise ValueError(f"keypoints: skeleton must be a list of [point, point] edges, got {skeleton!r}")
        edges = [list(edge) if isinstance(edge, (list, tuple)) else edge for edge in (skeleton or [])]
        for edge in edges:
            if not isinstance(edge, list) or len(edge) != 2 or not all(isinstance(p, str) and p in names for p in edge):
                raise ValueError(f"keypoints: skeleton edge {edge!r} must join two of the points {names}")
        return {"points": names, "skeleton": edges}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        size = image_size(payload)
        values = items(label, "label")
        if [v.get("name") if isinstance(v, dict) else v for v in values] != config["points"]:
            raise LabelError(f"label: expected one entry per point, in order {config['points']}")
        out = []
        for value in values:
            where = f"points[{value['name']}]"
            value = record(value, where, {"name", "x", "y", "visible"})
            if value["visible"] is True:
                x, y = point([value["x"], value["y"]], where, size)
                out.append({"name": value["name"], "x": x, "y": y, "visible": True})
            elif value["visible"] is False and value["x"] is None and value["y"] is None:
                out.append({"name": value["name"], "x": None, "y": None, "visible": False})
            else:
                raise LabelError(f"{where}: place the point (visible true, x, y) or mark it not visible (null x, y)")
        return out

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        if [p["name"] for p in label] != [p["name"] for p in known]:
            return False
        placed = np.array([[p["x"], p["y"]] for p in known if p["visible"]], dtype=float).reshape(-1, 2)
        size = float(np.linalg.norm(placed.max(axis=0) - placed.min(axis=0))) if len(placed) else 0.0
        tolerance = max(self.control_distance * size, self.control_min_px)
        return all(
            mine["visible"] == truth["visible"]
            and (not truth["visible"] or math.hypot(mine["x"] - truth["x"], mine["y"] - truth["y"]) <= tolerance)
            for mine, truth in zip(label, known, strict=True)
        )


class OCR(Kind):
    """Text regions (a box or a 4-point quad) with their transcriptions:
    ``[{"box": {"x", "y", "w", "h"}, "text"}, ...]`` or ``[{"quad": [[x, y] * 4], "text"}, ...]``.

    On a control task, a label is right when its regions pair up one to one with the known ones,
    each pair with IoU at least `control_iou` and the same text once normalized (`normalized`).
    """

    aggregator: ClassVar[Estimator] = OCRAggregator
    control_iou: ClassVar[float] = 0.5

    name: ClassVar[str] = "ocr"
    media: ClassVar[Media] = IMAGE
    view: ClassVar[str] = "boxes"

    def make_config(self, *, shape: str = "box", max_chars: int = 500, **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        if shape not in ("box", "quad"):
            raise ValueError(f"ocr: shape must be 'box' or 'quad', got {shape!r}")
        return {"classes": [], "shape": shape, "transcribe": True, "max_chars": count(max_chars, "ocr: max_chars", minimum=1)}

    def options_of(self, config: dict[str, Any]) -> dict[str, Any]:
        return {"shape": config["shape"], "max_chars": config["max_chars"]}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
        size = image_size(payload)
        out = []
        for i, value in enumerate(items(label, "label")):
            where = f"regions[{i}]"
            shape = "quad" if config["shape"] == "quad" else "box"
            value = record(value, where, {shape, "text"})
            region: dict[str, Any] = {"text": text(value["text"], f"{where}.text", max_chars=config["max_chars"])}
            if shape == "quad":
                quad = [point(p, f"{where}.quad[{j}]", size) for j, p in enumerate(items(value["quad"], f"{where}.quad"))]
                if len(quad) != 4:
                    raise LabelError(f"{where}.quad: expected 4 points, got {len(quad)}")
                region["quad"] = quad
            else:
                region["box"] = _box(record(value["box"], f"{where}.box", {"x", "y", "w", "h"}), f"{where}.box", size)
            out.append(region)
        return out

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        return _same_shapes(label, known, self.control_iou, "text")
