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


CAR = {"label": "car", "x": 40.0, "y": 20.0, "w": 60.0, "h": 40.0}
SIGN = {"label": "sign", "x": 150.0, "y": 10.0, "w": 20.0, "h": 20.0}


@pytest.mark.parametrize(
    ("label", "right"),
    [
        ([CAR, SIGN], True),
        ([SIGN, {**CAR, "x": 42.0, "y": 18.0}], True),  # another order, 2 px off
        ([{**CAR, "label": "sign"}, SIGN], False),  # wrong class
        ([{**CAR, "x": 70.0}, SIGN], False),  # half off: IoU 1/3
        ([CAR], False),  # a box missing
        ([CAR, SIGN, {**SIGN, "x": 100.0}], False),  # a box too many
    ],
)
def test_control_boxes_match_by_class_and_iou(label: list[dict], right: bool) -> None:
    kind = kinds.get("bbox")
    assert kind.matches(label, [CAR, SIGN], kind.make_config(classes=["car", "sign"])) is right


def test_control_boxes_without_any_object() -> None:
    kind = kinds.get("bbox")
    config = kind.make_config(classes=["car"])
    assert kind.matches([], [], config) and not kind.matches([CAR], [], config)


def test_control_polygons_match_by_class_and_iou() -> None:
    kind = kinds.get("polygon")
    config = kind.make_config(classes=["roof", "tree"])
    roof = {"label": "roof", "points": [[10.0, 10.0], [60.0, 10.0], [60.0, 50.0], [10.0, 50.0]]}
    nudged = {"label": "roof", "points": [[12.0, 11.0], [61.0, 10.0], [59.0, 52.0], [10.0, 49.0]]}
    assert kind.matches([nudged], [roof], config)
    assert not kind.matches([{**nudged, "label": "tree"}], [roof], config)
    half = {"label": "roof", "points": [[35.0, 10.0], [85.0, 10.0], [85.0, 50.0], [35.0, 50.0]]}
    assert not kind.matches([half], [roof], config)


def _point(name: str, xy: tuple[float, float] | None) -> dict:
    x, y = xy or (None, None)
    return {"name": name, "x": x, "y": y, "visible": xy is not None}


def _pose(nose: tuple[float, float] | None, eye: tuple[float, float] = (60.0, 40.0)) -> list[dict]:
    return [_point("nose", nose), _point("eye", eye), _point("ear", (100.0, 70.0))]


def test_control_keypoints_match_within_a_share_of_the_object_size() -> None:
    kind = kinds.get("keypoints")
    config = kind.make_config(points=["nose", "eye", "ear"])
    known = _pose((50.0, 50.0))  # object diagonal: hypot(50, 30) = 58.3, so 5.8 px allowed
    assert kind.matches(_pose((54.0, 53.0)), known, config)
    assert not kind.matches(_pose((58.0, 50.0)), known, config)
    assert not kind.matches(_pose(None), known, config)  # marked hidden, but it is visible
    assert kind.matches(_pose(None, eye=(62.0, 41.0)), _pose(None), config)


def test_control_ocr_regions_match_by_geometry_and_normalized_text() -> None:
    kind = kinds.get("ocr")
    config = kind.make_config()
    known = [{"box": {"x": 20.0, "y": 30.0, "w": 80.0, "h": 16.0}, "text": "TOTAL 42,00 €"}]
    nudged = {"x": 21.0, "y": 31.0, "w": 80.0, "h": 16.0}
    assert kind.matches([{"box": nudged, "text": "ＴＯＴＡＬ  42,00 €\n"}], known, config)  # full-width, spaces
    assert not kind.matches([{"box": nudged, "text": "TOTAL 42.00 €"}], known, config)
    assert not kind.matches([{"box": {**nudged, "y": 50.0}, "text": "TOTAL 42,00 €"}], known, config)
    quads = kinds.get("ocr").make_config(shape="quad")
    quad = [[20.0, 30.0], [100.0, 30.0], [100.0, 46.0], [20.0, 46.0]]
    shifted = [[x + 1.0, y + 1.0] for x, y in quad]
    assert kind.matches([{"quad": shifted, "text": "東京"}], [{"quad": quad, "text": "東京"}], quads)
    assert not kind.matches([{"quad": shifted, "text": "東京都"}], [{"quad": quad, "text": "東京"}], quads)
