"""Polygons (choice and vote) and keypoints (robust average, visibility vote)."""

from __future__ import annotations

import pandas as pd
import pytest

from crowdnb.aggregation.geometry import KeypointAggregator, PolygonAggregator
from crowdnb.aggregation.geometry.shapes import mask_iou, polygon_masks


def _square(x: float, size: float = 10, label: str = "roof") -> dict[str, object]:
    return {"label": label, "points": [[x, 0], [x + size, 0], [x + size, size], [x, size]]}


def test_rasterized_iou_of_squares() -> None:
    import numpy as np

    masks = polygon_masks([np.array(_square(0)["points"], float), np.array(_square(5)["points"], float)], size=60)
    assert mask_iou(masks)[0, 1] == pytest.approx(1 / 3, abs=0.02)


@pytest.mark.parametrize("method", ["choice", "vote"])
def test_the_central_outline_wins(method: str) -> None:
    answers = pd.DataFrame({"task": "t", "worker": ["a", "b", "c", "d"], "label": [[_square(0)], [_square(1)], [_square(2)], [_square(60)]]})
    [polygon] = PolygonAggregator(method=method).fit_predict(answers)["t"]
    assert polygon["points"] == _square(1)["points"]
    assert polygon["n_workers"] == 3


def _points(nose: tuple[float, float] | None, eye: tuple[float, float] | None) -> list[dict[str, object]]:
    out = []
    for name, xy in (("nose", nose), ("eye", eye)):
        out.append({"name": name, "x": xy and xy[0], "y": xy and xy[1], "visible": xy is not None})
    return out


def test_keypoints_reject_outliers_and_vote_visibility() -> None:
    answers = pd.DataFrame(
        {
            "task": "face",
            "worker": ["a", "b", "c", "d"],
            "label": [_points((10, 10), None), _points((12, 10), None), _points((11, 13), (5, 5)), _points((90, 90), None)],
        }
    )
    agg = KeypointAggregator().fit(answers)
    nose, eye = agg.labels_["face"]
    assert (nose["x"], nose["y"]) == pytest.approx((11, 11))
    assert nose["agreement"] == pytest.approx(0.75)
    assert eye["visible"] is False and eye["x"] is None and eye["agreement"] == pytest.approx(0.75)
