"""Shared geometry: IoU of any two shapes, and one-to-one matching above a threshold."""

from __future__ import annotations

import numpy as np
import pytest

from crowdnb.aggregation.geometry.shapes import all_matched, shape_iou

BOX = {"x": 0.0, "y": 0.0, "w": 10.0, "h": 10.0}


def test_boxes_regions_quads_and_polygons_compare_alike() -> None:
    shifted = {**BOX, "x": 5.0}
    assert shape_iou([BOX], [shifted])[0, 0] == pytest.approx(1 / 3)
    assert shape_iou([{"box": BOX, "text": "a"}], [{"box": shifted, "text": "b"}])[0, 0] == pytest.approx(1 / 3)
    quad = {"quad": [[5.0, 0.0], [15.0, 0.0], [15.0, 10.0], [5.0, 10.0]], "text": "b"}
    square = {"points": [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]}
    scores = shape_iou([BOX, square], [quad, square])
    assert scores.shape == (2, 2)
    assert scores[:, 0] == pytest.approx([1 / 3, 1 / 3], abs=0.02)
    assert scores[:, 1] == pytest.approx([1.0, 1.0])
    assert shape_iou([], [BOX]).shape == (0, 1)


def test_matching_needs_a_good_partner_for_every_shape() -> None:
    # The best total pairs (0, 0) and (1, 1), leaving 0.4 < 0.5; the only good pairing is crossed.
    scores = np.array([[0.9, 0.6], [0.6, 0.4]])
    assert all_matched(scores, 0.5)
    assert not all_matched(np.array([[0.9, 0.6], [0.3, 0.4]]), 0.5)
    assert not all_matched(np.ones((2, 3)), 0.5)
    assert all_matched(np.zeros((0, 0)), 0.5)
