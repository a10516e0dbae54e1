"""YOLO (Ultralytics) folders: read by supervision as written, and back into a project."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import supervision as sv
import yaml
from conftest import boxes, image_project, label
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import write_images

import crowdnb
from crowdnb import formats
from crowdnb.errors import ValidationError
from crowdnb.formats.imagefiles import Stems
from crowdnb.formats.yolo import flip_idx

W, H = 64, 48
BOXES = {
    "img0": [{"label": "dog", "x": 1.5, "y": 2.0, "w": 10.0, "h": 5.25}, {"label": "cat", "x": 0.0, "y": 0.0, "w": 64.0, "h": 48.0}],
    "img1": [],
}
POLYGONS = {"img0": [{"label": "cat", "points": [[2.0, 3.0], [40.0, 5.5], [30.0, 44.0]]}], "img2": [{"label": "dog", "points": [[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]]}]}


def _supervision(out: Path, **options: Any) -> dict[str, tuple[list[str], np.ndarray]]:
    """The export as supervision loads it: image name -> (classes, xyxy)."""
    dataset = sv.DetectionDataset.from_yolo(str(out / "images"), str(out / "labels"), str(out / "data.yaml"), **options)
    return {Path(path).name: ([dataset.classes[c] for c in found.class_id], found.xyxy) for path, _, found in dataset}


def _xyxy(boxes: list[dict[str, Any]]) -> np.ndarray:
    return np.array([[b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]] for b in boxes], dtype=float).reshape(-1, 4)


def _known(project: crowdnb.Project) -> dict[str, Any]:
    """The project's known answers by image file name."""
    tasks = project.tasks()
    return {Path(p["image"]).name: a for p, a in zip(tasks["payload"], tasks["known_answer"], strict=True)}


def test_boxes_load_with_supervision_and_come_back_as_answers(store, tmp_path: Path) -> None:
    project = image_project(store, tmp_path / "img", "bbox", classes=["cat", "dog"])
    label(project, "ana", BOXES)
    done = project.export(tmp_path / "yolo", "yolo", media="copy")
    assert (done.counts.tasks, done.counts.labels, done.counts.objects) == (3, 2, 2)
    assert done.counts.skipped == ["1 task(s) without labels: no file, not listed"]
    data = yaml.safe_load((done.path / "data.yaml").read_text())
    assert data == {"train": "images", "val": "images", "nc": 2, "names": {0: "cat", 1: "dog"}}
    assert sorted(p.name for p in (done.path / "labels").iterdir()) == ["img000.txt", "img001.txt"]
    loaded = _supervision(done.path)
    assert loaded.keys() == {"img000.jpeg", "img001.jpeg"}
    for name, task in (("img000.jpeg", "img0"), ("img001.jpeg", "img1")):
        classes, xyxy = loaded[name]
        assert classes == [b["label"] for b in BOXES[task]]
        assert np.allclose(xyxy, _xyxy(BOXES[task]), atol=1e-3 * W)
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=store, classes=["dog", "cat"])  # matched by name
    assert copy.import_tasks(done.path, "yolo", as_="answer").added == 2
    assert _known(copy) == {"img000.jpeg": BOXES["img0"], "img001.jpeg": []}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(boxes(["cat", "dog"], W, H), min_size=1, max_size=3))
def test_any_boxes_round_trip_by_path(sqlite_store, tmp_path: Path, labels: list[list[dict[str, Any]]]) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=len(labels), classes=["cat", "dog"])
    label(project, "ana", {f"img{i}": boxes for i, boxes in enumerate(labels)})
    done = project.export(tmp_path / f"yolo-{uuid.uuid4().hex[:6]}", "yolo")
    listed = (done.path / "train.txt").read_text().splitlines()
    assert listed == [str((tmp_path / "img" / f"img{i:03d}.jpeg").resolve()) for i in range(len(labels))]
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=sqlite_store, classes=["cat", "dog"])
    copy.import_tasks(done.path, "yolo", as_="answer")
    assert _known(copy) == {f"img{i:03d}.jpeg": boxes for i, boxes in enumerate(labels)}  # exactly


def test_polygons_load_as_masks_and_round_trip(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "polygon", classes=["cat", "dog"])
    label(project, "ana", POLYGONS)
    done = project.export(tmp_path / "yolo", "yolo", media="copy")
    line = (done.path / "labels" / "img000.txt").read_text()
    assert line == "0 0.031250 0.062500 0.625000 0.114583 0.468750 0.916667\n"
    loaded = _supervision(done.path, force_masks=True)
    for name, task in (("img000.jpeg", "img0"), ("img002.jpeg", "img2")):
        classes, xyxy = loaded[name]
        points = np.array(POLYGONS[task][0]["points"])
        assert classes == [POLYGONS[task][0]["label"]]
        assert np.allclose(xyxy, [[*points.min(axis=0), *points.max(axis=0)]], atol=1)
    dataset = sv.DetectionDataset.from_yolo(str(done.path / "images"), str(done.path / "labels"), str(done.path / "data.yaml"), force_masks=True)
    masks = {Path(path).name: found.mask for path, _, found in dataset}
    assert masks["img002.jpeg"].shape == (1, H, W) and abs(int(masks["img002.jpeg"].sum()) - 100) <= 21  # the 10 x 10 square
    copy = crowdnb.Project.create("copy", "polygon", store=sqlite_store, classes=["cat", "dog"])
    copy.import_tasks(done.path, "yolo", as_="answer")
    assert _known(copy) == {"img000.jpeg": POLYGONS["img0"], "img002.jpeg": POLYGONS["img2"]}


def _pose(points: list[str], hidden: set[str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "x": None, "y": None, "visible": False} if name in hidden else {"name": name, "x": 2.0 + 3 * i, "y": 40.0 - 2 * i, "visible": True}
        for i, name in enumerate(points)
    ]


def test_pose_files_parse_back_to_the_same_keypoints(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "keypoints", preset="coco17")
    points = project.config["points"]
    pose = _pose(points, {"nose", "left_ear", "right_ankle"})
    label(project, "ana", {"img0": pose, "img1": _pose(points, set(points))})
    done = project.export(tmp_path / "pose", "yolo", media="copy")
    data = yaml.safe_load((done.path / "data.yaml").read_text())
    assert data["names"] == {0: project.name} and data["kpt_shape"] == [17, 3]
    assert data["flip_idx"] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]  # Ultralytics' coco8-pose
    values = (done.path / "labels" / "img000.txt").read_text().split()
    assert len(values) == 5 + 17 * 3 and values[0] == "0"
    placed = [p for p in pose if p["visible"]]
    xs, ys = [p["x"] for p in placed], [p["y"] for p in placed]
    assert [float(v) for v in values[1:5]] == pytest.approx([(min(xs) + max(xs)) / 2 / W, (min(ys) + max(ys)) / 2 / H, (max(xs) - min(xs)) / W, (max(ys) - min(ys)) / H], abs=1e-6)
    for point, (x, y, v) in zip(pose, np.array(values[5:], dtype=float).reshape(17, 3), strict=True):
        assert (v, x, y) == ((2, pytest.approx(point["x"] / W, abs=1e-6), pytest.approx(point["y"] / H, abs=1e-6)) if point["visible"] else (0, 0, 0))
    assert (done.path / "labels" / "img001.txt").read_text() == ""  # no point visible: no object
    boxes = _supervision(done.path)  # supervision reads a pose row as its box (kpt_shape)
    assert np.allclose(boxes["img000.jpeg"][1], [[min(xs), min(ys), max(xs), max(ys)]], atol=1e-3 * W)
    read = {Path(r["image"]).name: r["label"] for piece in formats.read(done.path, "yolo", kind="keypoints", config=project.config) for r in piece.to_dict("records")}
    assert read == {"img000.jpeg": pose, "img001.jpeg": _pose(points, set(points))}


def test_flip_idx_pairs_left_and_right_names_or_gives_up() -> None:
    assert flip_idx(["nose", "mouth_left", "mouth_right"]) == [0, 2, 1]
    assert flip_idx(["left_hand", "head"]) is None
    assert flip_idx(["a", "b"]) == [0, 1]


def test_pose_without_mirrored_names_has_no_flip_idx(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "keypoints", n=1, points=["head", "tail"])
    label(project, "ana", {"img0": [{"name": "head", "x": 1.0, "y": 1.0, "visible": True}, {"name": "tail", "x": 9.0, "y": 5.0, "visible": True}]})
    data = yaml.safe_load((project.export(tmp_path / "pose", "yolo").path / "data.yaml").read_text())
    assert data["kpt_shape"] == [2, 3] and "flip_idx" not in data


def test_raw_export_of_several_workers_stops_and_leaves_nothing(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", overlap=2, classes=["cat", "dog"])
    label(project, "ana", BOXES)
    label(project, "ben", {"img0": []})
    with pytest.raises(ValueError, match=r"task 'img0' has 2 \(\['ana', 'ben'\]\).*aggregated=True.*workers="):
        project.export(tmp_path / "out" / "yolo", "yolo")
    assert list((tmp_path / "out").iterdir()) == []
    done = project.export(tmp_path / "out" / "yolo", "yolo", workers=["ben"])
    assert (done.counts.labels, done.counts.objects) == (1, 0)
    done = project.export(tmp_path / "out" / "agg", "yolo", aggregated=True)
    assert done.counts.labels == 2


def test_same_names_get_unique_stems_and_urls_are_skipped(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "a", "bbox", n=1, classes=["cat", "dog"])
    twin = tmp_path / "b" / "img000.jpeg"
    twin.parent.mkdir()
    shutil.copyfile(tmp_path / "a" / "img000.jpeg", twin)
    project.add_tasks(pd.DataFrame({"id": ["twin", "web"], "image": [str(twin), "https://example.org/x.jpg"]}))
    label(project, "ana", {"img0": BOXES["img0"][:1], "twin": BOXES["img0"][1:], "web": []})
    done = project.export(tmp_path / "yolo", "yolo", media_root=str(tmp_path))
    assert (done.path / "train.txt").read_text() == "a/img000.jpeg\nb/img000.jpeg\n"
    hashed = hashlib.sha1(b"b/img000.jpeg").hexdigest()[:8]
    assert sorted(p.name for p in (done.path / "labels").iterdir()) == sorted(["img000.txt", f"{hashed}_img000.txt"])
    assert done.counts.skipped == ["web: YOLO needs image files; the image is a URL"]
    read = [(r["image"], r["label"]) for piece in formats.read(done.path, "yolo", kind="bbox", config=project.config, media_root=str(tmp_path)) for r in piece.to_dict("records")]
    assert read == [(str(tmp_path / "a" / "img000.jpeg"), BOXES["img0"][:1]), (str(twin), BOXES["img0"][1:])]


def test_unknown_classes_name_the_file_and_line(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=["cat", "dog"])
    label(project, "ana", {"img0": BOXES["img0"], "img1": [{"label": "cat", "x": 1.0, "y": 1.0, "w": 2.0, "h": 2.0}]})
    done = project.export(tmp_path / "yolo", "yolo")
    (done.path / "labels" / "img001.txt").write_text("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n")
    other = crowdnb.Project.create("birds", "bbox", store=sqlite_store, classes=["cat", "owl"])
    with pytest.raises(ValidationError) as caught:
        other.import_tasks(done.path, "yolo", as_="answer")
    assert [(p.row, p.field) for p in caught.value.problems] == [("labels/img000.txt:1", "label"), ("labels/img001.txt:2", "label")]
    assert "class 'dog' is not one of the project's classes ['cat', 'owl']" in caught.value.problems[0].message
    assert "class id 7 is not one of data.yaml's names" in caught.value.problems[1].message
    assert len(other.tasks()) == 0


def test_an_ultralytics_dataset_reads_split_by_split(tmp_path: Path) -> None:
    root = tmp_path / "coco8"
    for split in ("train", "val"):
        (root / "labels" / split).mkdir(parents=True)
        write_images(root / "images" / split, 1, size=(W, H))
    (root / "labels" / "train" / "img000.txt").write_text("1 0.5 0.5 0.25 0.5\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\nnames: [cat, dog]\n")
    read = [(r.name, r["id"], r["image"], r["label"]) for piece in formats.read(root, "yolo", kind="bbox") for _, r in piece.iterrows()]
    assert read == [
        ("labels/train/img000.txt", "train/img000", str(root / "images" / "train" / "img000.jpeg"), [{"label": "dog", "x": 24.0, "y": 12.0, "w": 16.0, "h": 24.0}]),
        ("labels/val/img000.txt", "val/img000", str(root / "images" / "val" / "img000.jpeg"), []),  # no label file: background
    ]


def test_tasks_on_one_image_each_have_their_file_and_come_back(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=1, classes=["cat", "dog"])
    project.add_tasks(pd.DataFrame({"id": ["again"], "image": [str(tmp_path / "img" / "img000.jpeg")]}))
    label(project, "ana", {"img0": BOXES["img0"][:1], "again": BOXES["img0"][1:]})
    done = project.export(tmp_path / "by-path", "yolo")
    assert (done.path / "train.txt").read_text().splitlines() == [str(tmp_path / "img" / "img000.jpeg")] * 2
    assert sorted(p.name for p in (done.path / "labels").iterdir()) == ["img000.txt", "img000_1.txt"]
    copy = crowdnb.Project.create("copy", "bbox", store=sqlite_store, classes=["cat", "dog"])
    assert copy.import_tasks(done.path, "yolo", as_="answer").added == 2
    tasks = copy.tasks()
    assert dict(zip(tasks["id"], tasks["known_answer"], strict=True)) == {"img0": BOXES["img0"][:1], "again": BOXES["img0"][1:]}  # crowdnb_tasks.jsonl
    copied = project.export(tmp_path / "copied", "yolo", media="copy")
    loaded = _supervision(copied.path)
    assert {name: classes for name, (classes, _) in loaded.items()} == {"img000.jpeg": ["dog"], "img000_1.jpeg": ["cat"]}


def test_stems_are_unique_and_replayable() -> None:
    refs = ["a/x.jpg", "b/x.jpg", "a/x.jpg", "a/x.png", "a/x.jpg", "b/x_1.jpg"]
    hashed = {ref: hashlib.sha1(ref.encode()).hexdigest()[:8] for ref in refs}
    stems = Stems()
    assert [stems.of(ref) for ref in refs] == ["x", f"{hashed['b/x.jpg']}_x", "x_1", f"{hashed['a/x.png']}_x", "x_2", f"{hashed['b/x_1.jpg']}_x_1"]


IDS = {"a/1": BOXES["img0"][:1], "b-2": [], "사진3": BOXES["img0"][1:], "사진3 again": BOXES["img0"]}  # the last on 사진3's image


def _named_project(store, folder: Path) -> crowdnb.Project:
    """A project whose task ids are not its images' names, two tasks on one image."""
    project = crowdnb.Project.create(f"named-{uuid.uuid4().hex[:6]}", "bbox", store=store, classes=["cat", "dog"])
    paths = [str(p) for p in write_images(folder, 3, size=(W, H))]
    project.add_tasks(pd.DataFrame({"id": list(IDS), "image": [*paths, paths[2]]}))
    label(project, "ana", IDS)
    return project


@pytest.mark.parametrize("media", ["path", "copy"])
def test_task_ids_come_back_from_the_index(sqlite_store, tmp_path: Path, media: str) -> None:
    project = _named_project(sqlite_store, tmp_path / "img")
    done = project.export(tmp_path / "yolo", "yolo", media=media)
    assert sorted(p.name for p in (done.path / "labels").iterdir()) == ["img000.txt", "img001.txt", "img002.txt", "img002_1.txt"]
    index = [json.loads(line) for line in (done.path / "crowdnb_tasks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert index == [{"file": f"labels/{stem}.txt", "id": task} for stem, task in zip(["img000", "img001", "img002", "img002_1"], IDS, strict=True)]
    assert done.counts.files == (10 if media == "copy" else 7)  # 4 labels (and 4 images), data.yaml, train.txt (path), the index
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=sqlite_store, classes=["cat", "dog"])
    assert copy.import_tasks(done.path, "yolo", as_="answer").added == 4
    tasks = copy.tasks()
    assert dict(zip(tasks["id"], tasks["known_answer"], strict=True)) == IDS
    if media == "copy":  # the index does not disturb supervision's reading
        loaded = _supervision(done.path)
        assert {name: classes for name, (classes, _) in loaded.items()} == {"img000.jpeg": ["dog"], "img001.jpeg": [], "img002.jpeg": ["cat"], "img002_1.jpeg": ["dog", "cat"]}
    (done.path / "crowdnb_tasks.jsonl").unlink()  # a dataset made elsewhere: ids are the files' stems
    read = [r["id"] for piece in formats.read(done.path, "yolo", kind="bbox", config=project.config) for r in piece.to_dict("records")]
    assert read == ["img000", "img001", "img002", "img002_1"]


def test_a_bad_index_line_is_named(sqlite_store, tmp_path: Path) -> None:
    project = _named_project(sqlite_store, tmp_path / "img")
    done = project.export(tmp_path / "yolo", "yolo")
    index = done.path / "crowdnb_tasks.jsonl"
    lines = index.read_text(encoding="utf-8").splitlines()
    index.write_text("\n".join([lines[0], "{not json", '{"file": "labels/img001.txt"}', lines[0]]) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        list(formats.read(done.path, "yolo", kind="bbox", config=project.config))
    assert [(p.row, p.field) for p in caught.value.problems] == [("crowdnb_tasks.jsonl:2", ""), ("crowdnb_tasks.jsonl:3", "id"), ("crowdnb_tasks.jsonl:4", "id")]
