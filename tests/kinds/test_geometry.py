"""Boxes, polygons, keypoints and OCR regions: schemas and checks against the image size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crowdnb import kinds
from crowdnb.errors import LabelError

IMAGE = {"image": "/x.jpg", "width": 200, "height": 100, "format": "JPEG"}


@given(
    x=st.floats(0, 150), y=st.floats(0, 50), w=st.floats(0.5, 50), h=st.floats(0.5, 50),
)
def test_boxes_inside_the_image_are_kept(x: float, y: float, w: float, h: float) -> None:
    kind = kinds.get("bbox")
    config = kind.make_config(classes=["car", "sign"])
    (box,) = kind.validate_label([{"label": "car", "x": x, "y": y, "w": w, "h": h}], config, IMAGE)
    assert box["label"] == "car" and abs(box["x"] - x) <= 0.005 and box["w"] > 0


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ({"label": "car", "x": 190, "y": 10, "w": 20, "h": 10}, r"boxes\[0\].*outside the 200x100 image"),
        ({"label": "car", "x": -5, "y": 10, "w": 20, "h": 10}, "outside"),
        ({"label": "car", "x": 5, "y": 10, "w": 0, "h": 10}, r"boxes\[0\].w: expected a number > 0"),
        ({"label": "bus", "x": 5, "y": 10, "w": 5, "h": 10}, r"boxes\[0\].label: unknown class 'bus'"),
        ({"label": "car", "x": "5", "y": 10, "w": 5, "h": 10}, r"boxes\[0\].x: expected a number"),
        ({"label": "car", "x": 5, "y": 10, "w": 5}, r"missing \['h'\]"),
    ],
)
def test_bad_boxes_are_named(box: dict, message: str) -> None:
    kind = kinds.get("bbox")
    with pytest.raises(LabelError, match=message):
        kind.validate_label([box], kind.make_config(classes=["car"]), IMAGE)


def test_polygons_need_three_points_inside_the_image() -> None:
    kind = kinds.get("polygon")
    config = kind.make_config(classes=["road"])
    good = [{"label": "road", "points": [[0, 0], [200, 0], [100, 100]]}]
    assert kind.validate_label(good, config, IMAGE) == [{"label": "road", "points": [[0.0, 0.0], [200.0, 0.0], [100.0, 100.0]]}]
    with pytest.raises(LabelError, match="at least 3 points"):
        kind.validate_label([{"label": "road", "points": [[0, 0], [1, 1]]}], config, IMAGE)
    with pytest.raises(LabelError, match=r"points\[2\].*outside"):
        kind.validate_label([{"label": "road", "points": [[0, 0], [1, 1], [300, 1]]}], config, IMAGE)


def test_keypoint_presets_and_labels() -> None:
    kind = kinds.get("keypoints")
    face = kind.make_config(preset="face")
    assert len(face["points"]) == 9 and ["nose_tip", "mouth_left"] in face["skeleton"]
    assert len(kind.make_config(preset="coco17")["points"]) == 17
    label = [{"name": n, "x": 10.0 + i, "y": 20.0, "visible": True} for i, n in enumerate(face["points"])]
    label[2] = {"name": face["points"][2], "x": None, "y": None, "visible": False}
    assert kind.validate_label(label, face, IMAGE) == label
    with pytest.raises(LabelError, match="one entry per point"):
        kind.validate_label(label[:-1], face, IMAGE)
    label[3] = {"name": face["points"][3], "x": 500, "y": 20, "visible": True}
    with pytest.raises(LabelError, match="outside"):
        kind.validate_label(label, face, IMAGE)
    with pytest.raises(ValueError, match="skeleton edge"):
        kind.make_config(points=["a", "b"], skeleton=[["a", "c"]])
    with pytest.raises(ValueError, match="unknown preset"):
        kind.make_config(preset="hand")


def test_ocr_regions_need_text_and_keep_cjk_verbatim() -> None:
    kind = kinds.get("ocr")
    config = kind.make_config()
    region = {"box": {"x": 1, "y": 2, "w": 30, "h": 10}, "text": "ラーメン 一蘭"}
    assert kind.validate_label([region], config, IMAGE) == [{"text": "ラーメン 一蘭", "box": {"x": 1.0, "y": 2.0, "w": 30.0, "h": 10.0}}]
    with pytest.raises(LabelError, match=r"regions\[0\].text: must not be empty"):
        kind.validate_label([{**region, "text": "  "}], config, IMAGE)
    quads = kind.make_config(shape="quad")
    quad = {"quad": [[0, 0], [10, 0], [10, 5], [0, 5]], "text": "출구"}
    assert kind.validate_label([quad], quads, IMAGE)[0]["quad"][2] == [10.0, 5.0]
    with pytest.raises(LabelError, match="expected 4 points"):
        kind.validate_label([{"quad": quad["quad"][:3], "text": "x"}], quads, IMAGE)
