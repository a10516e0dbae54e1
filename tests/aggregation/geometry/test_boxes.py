"""Box fusion: matching by IoU, skill weights, minimum workers, agreement."""

from __future__ import annotations

import pandas as pd
import pytest

from crowdnb.aggregation.geometry import BoxAggregator


def _box(x: float, y: float, w: float = 10, h: float = 10, label: str = "car") -> dict[str, object]:
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def _answers(*per_worker: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame({"task": "img", "worker": [f"w{i}" for i in range(len(per_worker))], "label": list(per_worker)})


def test_matched_boxes_are_averaged_and_lonely_ones_dropped() -> None:
    answers = _answers([_box(0, 0), _box(100, 100)], [_box(2, 0)], [_box(1, 0, label="bus")])
    agg = BoxAggregator(min_workers=2).fit(answers)
    [box] = agg.labels_["img"]
    assert (box["x"], box["y"], box["w"], box["h"]) == pytest.approx((1, 0, 10, 10))
    assert box["label"] == "car" and box["n_workers"] == 3
    assert 0.8 < box["agreement"] < 1.0
    assert agg.confidence_["img"] == pytest.approx(box["agreement"])


def test_skills_weigh_coordinates_and_classes() -> None:
    answers = _answers([_box(0, 0, label="bus")], [_box(2, 0)], [_box(2, 0)])
    [box] = BoxAggregator().fit_predict(answers, pd.Series({"w0": 10.0, "w1": 1.0, "w2": 1.0}))["img"]
    assert box["x"] == pytest.approx(4 / 12)
    assert box["label"] == "bus"


def test_identical_boxes_agree_fully_and_no_boxes_is_certain() -> None:
    answers = pd.concat([_answers([_box(5, 5)], [_box(5, 5)]), _answers([], []).assign(task="empty")])
    agg = BoxAggregator().fit(answers)
    assert agg.labels_["img"][0]["agreement"] == pytest.approx(1.0)
    assert agg.labels_["empty"] == [] and agg.confidence_["empty"] == 1.0


def test_one_worker_per_task_gives_their_boxes() -> None:
    answers = _answers([_box(0, 0), _box(50, 50, label="bus")])
    assert [b["label"] for b in BoxAggregator().fit_predict(answers)["img"]] == ["car", "bus"]
