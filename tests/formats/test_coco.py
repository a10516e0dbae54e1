"""COCO: exports that pycocotools loads and scores, read back as tasks with the same labels."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import image_project, label, traced_peak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from samples import write_images

import crowdnb
from crowdnb import formats, kinds
from crowdnb.errors import ValidationError
from crowdnb.formats.base import Answer, Context, Item
from crowdnb.formats.coco import FORMAT, shoelace
from crowdnb.kinds.geometry import KEYPOINT_PRESETS

CLASSES = ["cat", "dog"]
CAT = {"label": "cat", "x": 1.5, "y": 2.0, "w": 20.0, "h": 15.25}
DOG = {"label": "dog", "x": 30.0, "y": 10.0, "w": 30.0, "h": 30.0}
BOXES = {"img0": [CAT, DOG], "img1": [{"label": "dog", "x": 5.0, "y": 5.0, "w": 12.5, "h": 40.0}]}
SQUARE = [[10.0, 10.0], [50.0, 10.0], [50.0, 40.0], [10.0, 40.0]]
NOTCH = [[1.0, 1.0], [8.0, 1.0], [8.0, 9.5], [4.0, 6.0], [1.0, 9.5]]
POLYGONS = {
    "img0": [{"label": "cat", "points": [[2.0, 2.0], [30.0, 4.0], [20.0, 40.0]]}],
    "img1": [{"label": "dog", "points": SQUARE}, {"label": "cat", "points": NOTCH}],
}
IMAGES = [(1, "img0", 64, 48), (2, "img1", 64, 48), (3, "img2", 64, 48)]


def _pose(points: list[str], seed: int) -> list[dict[str, Any]]:
    """A point set inside a 64x48 image, every third point not visible."""
    rng = np.random.default_rng(seed)
    return [
        _hidden(name) if i % 3 == 2 else _placed(name, float(rng.uniform(5, 60)), float(rng.uniform(5, 44)))
        for i, name in enumerate(points)
    ]


def _placed(name: str, x: float, y: float) -> dict[str, Any]:
    return {"name": name, "x": x, "y": y, "visible": True}


def _hidden(name: str) -> dict[str, Any]:
    return {"name": name, "x": None, "y": None, "visible": False}


def _document(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _records(path: Path, kind: str, config: dict[str, Any], **choices: Any) -> list[dict[str, Any]]:
    """Every row `formats.read` gives, its source a column."""
    pieces = formats.read(path, "coco", kind=kind, config=config, **choices)
    return [row for piece in pieces for row in piece.reset_index().to_dict("records")]


def _close(a: Any, b: Any) -> bool:
    """Labels equal, numbers within 0.01 px."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return math.isclose(a, b, abs_tol=0.01)
    return a == b


def _self_ap(path: Path, iou_type: str, sigmas: np.ndarray | None = None) -> float:
    """AP (IoU or OKS 0.5:0.95) of the file's annotations as detections (with their `score`)
    against the file itself."""
    truth = COCO(str(path))
    evaluation = COCOeval(truth, truth.loadRes(_document(path)["annotations"]), iou_type)
    if sigmas is not None:
        evaluation.params.kpt_oks_sigmas = sigmas
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


@pytest.mark.parametrize(("kind", "labels", "iou_type"), [("bbox", BOXES, "bbox"), ("polygon", POLYGONS, "segm")])
def test_aggregated_shapes_load_in_pycocotools_and_score_ap_one(
    sqlite_store, tmp_path: Path, kind: str, labels: dict[str, Any], iou_type: str
) -> None:
    project = image_project(sqlite_store, tmp_path / "img", kind, classes=CLASSES)
    label(project, "ana", labels)
    done = project.export(tmp_path / "coco.json", "coco", aggregated=True)
    shapes = sum(len(v) for v in labels.values())
    assert (done.counts.tasks, done.counts.labels, done.counts.objects) == (3, 2, shapes)
    document = _document(done.path)
    assert document["info"]["project"] == project.name and document["info"]["crowdnb"] == crowdnb.__version__
    assert [(c["id"], c["name"]) for c in document["categories"]] == [(1, "cat"), (2, "dog")]
    assert [(i["id"], i["crowdnb_task"], i["width"], i["height"]) for i in document["images"]] == IMAGES
    assert all(a["score"] == a["crowdnb_confidence"] == 1.0 and a["iscrowd"] == 0 for a in document["annotations"])
    truth = COCO(str(done.path))
    assert len(truth.getAnnIds()) == shapes
    assert truth.loadImgs(1)[0]["file_name"] == str(tmp_path / "img" / "img000.jpeg")
    assert _self_ap(done.path, iou_type) == 1.0


def test_scores_are_each_shapes_agreement_and_for_keypoints_the_confidence(sqlite_store, tmp_path: Path) -> None:
    boxes = image_project(sqlite_store, tmp_path / "img", "bbox", overlap=2, classes=CLASSES)
    label(boxes, "ana", {"img0": [CAT, DOG]})
    label(boxes, "ben", {"img0": [{**CAT, "x": 3.5}, {**DOG, "w": 25.0}]})
    (result,) = boxes.results().dropna(subset=["confidence"]).to_dict("records")
    written = _document(boxes.export(tmp_path / "boxes.json", "coco", aggregated=True).path)["annotations"]
    assert [a["score"] for a in written] == [box["agreement"] for box in result["label"]]
    assert len({a["score"] for a in written}) == 2
    assert all(a["crowdnb_confidence"] == result["confidence"] < 1 for a in written)
    pose = image_project(sqlite_store, tmp_path / "pose", "keypoints", overlap=2, points=["a", "b"])
    label(pose, "ana", {"img0": [_placed("a", 10.0, 10.0), _placed("b", 20.0, 20.0)]})
    label(pose, "ben", {"img0": [_placed("a", 11.0, 10.0), _hidden("b")]})
    (written,) = _document(pose.export(tmp_path / "pose.json", "coco", aggregated=True).path)["annotations"]
    assert written["score"] == written["crowdnb_confidence"] == pose.results()["confidence"][0] == 0.75


def test_polygon_area_is_the_shoelace_area(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "polygon", classes=CLASSES)
    label(project, "ana", POLYGONS)
    dog = _document(project.export(tmp_path / "coco.json", "coco", aggregated=True).path)["annotations"][1]
    assert dog["segmentation"] == [[10.0, 10.0, 50.0, 10.0, 50.0, 40.0, 10.0, 40.0]]
    assert (dog["area"], dog["bbox"]) == (1200.0, [10.0, 10.0, 40.0, 30.0])
    assert shoelace(NOTCH) == 7 * 8.5 - 7 * 3.5 / 2


@pytest.mark.parametrize("preset", ["coco17", "face"])
def test_aggregated_keypoints_score_oks_ap_one_and_read_back(sqlite_store, tmp_path: Path, preset: str) -> None:
    points, skeleton = KEYPOINT_PRESETS[preset]["points"], KEYPOINT_PRESETS[preset]["skeleton"]
    project = image_project(sqlite_store, tmp_path / "img", "keypoints", preset=preset)
    poses = {"img0": _pose(points, 0), "img1": _pose(points, 1)}
    label(project, "ana", poses)
    done = project.export(tmp_path / "pose.json", "coco", aggregated=True)
    document = _document(done.path)
    (category,) = document["categories"]
    assert (category["name"], category["keypoints"]) == (project.name, points)
    assert category["skeleton"] == [[points.index(a) + 1, points.index(b) + 1] for a, b in skeleton]
    first = document["annotations"][0]
    assert first["keypoints"][6:9] == [0, 0, 0] and first["keypoints"][2] == 2
    assert first["num_keypoints"] == sum(p["visible"] for p in poses["img0"])
    sigmas = None if preset == "coco17" else np.full(len(points), 0.05)  # COCOeval's default sigmas are COCO's 17
    assert _self_ap(done.path, "keypoints", sigmas) == 1.0
    rows = _records(done.path, "keypoints", project.config)
    assert [r["id"] for r in rows] == ["img0", "img1", "img2"] and rows[2]["label"] is None
    assert all(_close(r["label"], poses[r["id"]]) for r in rows[:2])
    copy = crowdnb.Project.create(f"copy-{preset}", "keypoints", store=sqlite_store, preset=preset)
    assert copy.import_tasks(done.path, "coco", as_="answer").added == 3
    known = dict(zip(copy.tasks()["id"], copy.tasks()["known_answer"], strict=True))
    assert known["img2"] is None and all(_close(known[task], pose) for task, pose in poses.items())


def test_raw_export_holds_every_workers_annotation_and_reads_back_per_worker(store, tmp_path: Path) -> None:
    project = image_project(store, tmp_path / "img", "bbox", overlap=2, classes=CLASSES)
    label(project, "ana", {"img0": [CAT, DOG], "img1": []})
    label(project, "ben", {"img0": [CAT]})
    done = project.export(tmp_path / "raw.json", "coco")
    assert (done.counts.labels, done.counts.objects) == (3, 3)
    truth = COCO(str(done.path))
    annotations = truth.loadAnns(truth.getAnnIds(imgIds=[1]))
    assert [a["crowdnb_worker"] for a in annotations] == ["ana", "ana", "ben"]
    assert all(a["crowdnb_status"] and a["crowdnb_annotation"] for a in annotations)
    assert [i["crowdnb_workers"] for i in truth.loadImgs([1, 2, 3])] == [["ana", "ben"], ["ana"], []]
    rows = _records(done.path, "bbox", project.config)
    assert [(r["source"], r["id"], r["label"]) for r in rows] == [
        ("raw.json:image 1, worker ana", "img0", [CAT, DOG]), ("raw.json:image 1, worker ben", "img0", [CAT]),
        ("raw.json:image 2, worker ana", "img1", []), ("raw.json:image 3", "img2", None),
    ]


@pytest.mark.parametrize(("kind", "labels"), [("bbox", BOXES), ("polygon", POLYGONS)])
def test_aggregated_export_imports_as_known_answers(store, tmp_path: Path, kind: str, labels: dict[str, Any]) -> None:
    project = image_project(store, tmp_path / "img", kind, classes=CLASSES)
    label(project, "ana", {**labels, "img2": []})
    done = project.export(tmp_path / "coco.json", "coco", aggregated=True)
    copy = crowdnb.Project.create(f"copy-{kind}", kind, store=store, classes=CLASSES)
    assert copy.import_tasks(done.path, "coco", as_="answer").added == 3
    tasks = copy.tasks()
    known = dict(zip(tasks["id"], tasks["known_answer"], strict=True))
    assert known.keys() == {"img0", "img1", "img2"} and known["img2"] == []
    assert all(_close(known[task], value) for task, value in labels.items())
    assert [p["image"] for p in tasks["payload"]] == [str(tmp_path / "img" / f"img00{i}.jpeg") for i in range(3)]


def test_file_names_relative_to_media_root(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=CLASSES)
    label(project, "ana", BOXES)
    done = project.export(tmp_path / "out" / "coco.json", "coco", media_root=str(tmp_path / "img"))
    assert [i["file_name"] for i in _document(done.path)["images"]] == ["img000.jpeg", "img001.jpeg", "img002.jpeg"]
    rows = _records(done.path, "bbox", project.config, media_root=str(tmp_path / "img"))
    assert [r["image"] for r in rows] == [str(tmp_path / "img" / f"img00{i}.jpeg") for i in range(3)]


def _published(tmp_path: Path, categories: list[dict[str, Any]], annotations: list[dict[str, Any]]) -> Path:
    """A COCO file as the published datasets have it (no crowdnb fields) beside its 3 images."""
    write_images(tmp_path / "data", 3)
    images = [
        {"id": 10 + i, "file_name": f"img00{i}.jpeg", "width": 64, "height": 48, "license": 1, "coco_url": ""}
        for i in range(3)
    ]
    path = tmp_path / "data" / "instances_val.json"
    path.write_text(json.dumps({
        "info": {"year": 2017, "version": "1.0", "description": "hand written"}, "licenses": [{"id": 1, "name": "CC"}],
        "images": images, "annotations": annotations, "categories": categories,
    }), encoding="utf-8")
    return path


def _annotation(number: int, image: int, category: int, bbox: list[float], **more: Any) -> dict[str, Any]:
    return {"id": number, "image_id": image, "category_id": category, "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0, **more}


def test_a_published_coco_file_imports_as_predictions(sqlite_store, tmp_path: Path) -> None:
    categories = [{"id": 17, "name": "cat", "supercategory": "animal"}, {"id": 18, "name": "dog", "supercategory": "animal"}]
    path = _published(tmp_path, categories, [
        _annotation(1, 10, 18, [3, 4, 20, 10], segmentation=[[3, 4, 23, 4, 23, 14, 3, 14]]),
        _annotation(2, 10, 17, [30.5, 1, 10, 10], segmentation=[[30.5, 1, 40.5, 1, 40.5, 11]]),
        _annotation(3, 12, 17, [0, 0, 64, 48], segmentation=[[0, 0, 64, 0, 64, 48]]),
    ])
    project = crowdnb.Project.create("predicted", "bbox", store=sqlite_store, classes=CLASSES)
    assert project.import_tasks(path, "coco").added == 3
    assert [p.get("prediction") for p in project.tasks()["payload"]] == [
        [{"label": "dog", "x": 3.0, "y": 4.0, "w": 20.0, "h": 10.0}, {"label": "cat", "x": 30.5, "y": 1.0, "w": 10.0, "h": 10.0}],
        None,
        [{"label": "cat", "x": 0.0, "y": 0.0, "w": 64.0, "h": 48.0}],
    ]
    polygons = crowdnb.Project.create("outlined", "polygon", store=sqlite_store, classes=CLASSES)
    assert polygons.import_tasks(path, "coco").added == 3
    cat = polygons.tasks()["payload"][0]["prediction"][1]
    assert cat == {"label": "cat", "points": [[30.5, 1.0], [40.5, 1.0], [40.5, 11.0]]}


def test_unknown_categories_are_named_and_nothing_is_stored(sqlite_store, tmp_path: Path) -> None:
    names = ["cat", "zebra", "unicorn", "unused"]
    categories = [{"id": n, "name": name} for n, name in enumerate(names, 1)]
    path = _published(tmp_path, categories, [_annotation(n, 10 + n % 3, 1 + n % 3, [1, 1, 5, 5]) for n in range(6)])
    project = crowdnb.Project.create("strict", "bbox", store=sqlite_store, classes=CLASSES)
    with pytest.raises(ValidationError) as caught:
        project.import_tasks(path, "coco")
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        ("instances_val.json:category 2", "label", "unknown class 'zebra'; the project's classes: ['cat', 'dog']"),
        ("instances_val.json:category 3", "label", "unknown class 'unicorn'; the project's classes: ['cat', 'dog']"),
    ]
    assert len(project.tasks()) == 0


def test_rle_and_malformed_segmentations_are_refused_by_annotation_id(tmp_path: Path) -> None:
    path = _published(tmp_path, [{"id": 1, "name": "cat"}], [
        _annotation(7, 10, 1, [0, 0, 5, 5], iscrowd=1, segmentation={"size": [48, 64], "counts": "PPYo0"}),
        _annotation(8, 11, 1, [0, 0, 5, 5], segmentation=[[0, 0, 5, 0, 5]]),
        _annotation(9, 12, 1, [0, 0, 5, 5], segmentation=[[0, 0, 5, 0, 5, 5]]),
    ])
    with pytest.raises(ValidationError) as caught:
        _records(path, "polygon", {"classes": CLASSES})
    assert [(p.row, p.message) for p in caught.value.problems] == [
        ("instances_val.json:annotation 7", "annotation 7 has an RLE segmentation (crowd region); crowdnb reads polygons"),
        ("instances_val.json:annotation 8", "annotation 8 has a segmentation that is not lists of x, y numbers; crowdnb reads polygons"),
    ]
    box = [{"label": "cat", "x": 0.0, "y": 0.0, "w": 5.0, "h": 5.0}]
    assert [r["label"] for r in _records(path, "bbox", {"classes": CLASSES})] == [box] * 3  # boxes come from bbox
    unboxed = _published(tmp_path, [{"id": 1, "name": "cat"}], [{"id": 4, "image_id": 10, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]}])
    document = _document(unboxed)
    del document["images"][2]["file_name"]
    unboxed.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        _records(unboxed, "bbox", {"classes": CLASSES})
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        ("instances_val.json:annotation 4", "label", "annotation 4 has no bbox [x, y, w, h]"),
        ("instances_val.json:image 12", "image", "image 12 has no file_name"),
    ]


def test_keypoints_are_mapped_by_name_to_the_projects_points(tmp_path: Path) -> None:
    config = kinds.get("keypoints").make_config(points=["nose", "left_eye", "right_eye"])
    categories = [{"id": 1, "name": "person", "keypoints": ["right_eye", "nose"], "skeleton": [[1, 2]]}]
    annotations = [_annotation(1, 10, 1, [25, 20, 5, 10], keypoints=[30, 20, 1, 25, 30, 2], num_keypoints=2)]
    (first, *rest) = _records(_published(tmp_path, categories, annotations), "keypoints", config)
    assert first["label"] == [_placed("nose", 25.0, 30.0), _hidden("left_eye"), _placed("right_eye", 30.0, 20.0)]
    assert [r["label"] for r in rest] == [None, None]
    crowded = [*annotations, _annotation(2, 11, 1, [0, 0, 1, 1], keypoints=[1, 1, 2, 0, 0, 0]), _annotation(3, 11, 1, [0, 0, 0, 0])]
    categories[0]["keypoints"] = ["right_eye", "tail"]
    with pytest.raises(ValidationError) as caught:
        _records(_published(tmp_path, categories, crowded), "keypoints", config)
    assert [(p.row, p.message) for p in caught.value.problems] == [
        ("instances_val.json:category 1", "unknown points ['tail']; the project's points: ['nose', 'left_eye', 'right_eye']"),
        ("instances_val.json:image 11", "2 keypoint annotations; a keypoints task holds one point set"),
    ]


BOX_CONTEXT = Context("p", kinds.get("bbox"), {"classes": CLASSES})
POLYGON_CONTEXT = Context("p", kinds.get("polygon"), {"classes": CLASSES})
PAYLOAD = {"image": "/data/a.jpg", "width": 640, "height": 480, "format": "JPEG"}
across, down, size, category = st.floats(0, 600), st.floats(0, 440), st.floats(0.01, 40), st.sampled_from(CLASSES)
box = st.builds(lambda c, x, y, w, h: {"label": c, "x": x, "y": y, "w": w, "h": h}, category, across, down, size, size)
polygon = st.builds(lambda c, p: {"label": c, "points": p}, category, st.lists(st.tuples(across, down).map(list), min_size=3, max_size=8))


def _round_trip(labels: list[list[dict[str, Any]]], context: Context) -> list[Any]:
    """`labels` (one worker's, one per task) written as COCO and read back."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "coco.json"
        answers = ([Answer(value, worker="w", status="submitted", annotation_id=f"a{n}")] for n, value in enumerate(labels))
        counts = FORMAT.write((Item(f"t{n}", PAYLOAD, {}, found) for n, found in enumerate(answers)), path, context)
        assert counts.objects == sum(map(len, labels))
        return [row["label"] for piece in FORMAT.read(path, context) for row in piece.to_dict("records")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(box, max_size=4), min_size=1, max_size=5))
def test_generated_boxes_round_trip(labels: list[list[dict[str, Any]]]) -> None:
    labels = [BOX_CONTEXT.kind.validate_label(value, BOX_CONTEXT.config, PAYLOAD) for value in labels]  # as stored
    assert _round_trip(labels, BOX_CONTEXT) == labels


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(polygon, max_size=3), min_size=1, max_size=5))
def test_generated_polygons_round_trip(labels: list[list[dict[str, Any]]]) -> None:
    labels = [POLYGON_CONTEXT.kind.validate_label(value, POLYGON_CONTEXT.config, PAYLOAD) for value in labels]  # as stored
    assert _round_trip(labels, POLYGON_CONTEXT) == labels


def test_writing_holds_one_task_at_a_time_and_an_empty_project_is_valid_coco(tmp_path: Path) -> None:
    def items(n: int) -> Any:
        boxes = [{"label": CLASSES[j % 2], "x": 1.25 * j, "y": 2.5, "w": 10.0 + j, "h": 7.75} for j in range(10)]
        return (Item(f"t{i}", PAYLOAD, {}, [Answer(boxes, confidence=0.9, agreement=[0.8] * 10)]) for i in range(n))

    context = Context("p", kinds.get("bbox"), {"classes": CLASSES}, formats.Options(aggregated=True))
    counts, peak = traced_peak(lambda: FORMAT.write(items(3_000), tmp_path / "big.json", context))
    assert counts.objects == 30_000 and peak < 2**22  # the 30,000 annotations as objects would take ~30 MB
    assert len(COCO(str(tmp_path / "big.json")).getAnnIds()) == 30_000
    assert FORMAT.write(items(0), tmp_path / "empty.json", context).tasks == 0
    assert _document(tmp_path / "empty.json")["images"] == [] == list(FORMAT.read(tmp_path / "empty.json", context))


def test_values_that_are_not_numbers_and_annotations_of_no_image_are_named(tmp_path: Path) -> None:
    annotations = [{**_annotation(1, 10, 1, [1, 2, 3, 4]), "bbox": ["a", 2, 3, 4]}, _annotation(2, 99, 1, [1, 2, 3, 4])]
    with pytest.raises(ValidationError) as caught:
        _records(_published(tmp_path, [{"id": 1, "name": "cat"}], annotations), "bbox", {"classes": CLASSES})
    assert [(p.row, p.field) for p in caught.value.problems] == [
        ("instances_val.json:annotation 1", "label"), ("instances_val.json:image 99", "image_id"),
    ]
