"""Pascal VOC folders: read by supervision as written, and back into a project."""

from __future__ import annotations

import json
import uuid
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import supervision as sv
from conftest import boxes, image_project, label
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samples import write_images

import crowdnb
from crowdnb import formats
from crowdnb.errors import ValidationError

W, H = 64, 48
CLASSES = ["cat", "dog & <friends>", "고양이"]
BOXES = {
    "img0": [{"label": "dog & <friends>", "x": 1.5, "y": 2.0, "w": 10.0, "h": 5.25}, {"label": "고양이", "x": 0.0, "y": 0.0, "w": 64.0, "h": 48.0}],
    "img1": [],
}


def _known(project: crowdnb.Project) -> dict[str, Any]:
    """The project's known answers by image file name."""
    tasks = project.tasks()
    return {Path(p["image"]).name: a for p, a in zip(tasks["payload"], tasks["known_answer"], strict=True)}


def test_boxes_load_with_supervision_and_come_back_as_answers(store, tmp_path: Path) -> None:
    project = image_project(store, tmp_path / "img", "bbox", classes=CLASSES)
    label(project, "ana", BOXES)
    done = project.export(tmp_path / "voc", "voc", media="copy")
    assert (done.counts.tasks, done.counts.labels, done.counts.objects) == (3, 2, 2)
    stems = (done.path / "ImageSets" / "Main" / "default.txt").read_text().split()
    assert stems == ["img000", "img001"]
    root = ET.parse(done.path / "Annotations" / f"{stems[0]}.xml").getroot()
    assert (root.findtext("filename"), root.findtext("size/width"), root.findtext("size/height"), root.findtext("size/depth")) == (f"{stems[0]}.jpeg", "64", "48", "3")
    assert [[o.findtext(f"bndbox/{c}") for c in ("xmin", "ymin", "xmax", "ymax")] for o in root.findall("object")] == [["2.5", "3", "11.5", "7.25"], ["1", "1", "64", "48"]]
    dataset = sv.DetectionDataset.from_pascal_voc(str(done.path / "JPEGImages"), str(done.path / "Annotations"))
    loaded = {Path(path).name: found for path, _, found in dataset}
    for name, task in (("img000.jpeg", "img0"), ("img001.jpeg", "img1")):
        boxes = BOXES[task]
        assert [dataset.classes[c] for c in loaded[name].class_id] == [b["label"] for b in boxes]
        wanted = np.array([[b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]] for b in boxes]).reshape(-1, 4)
        assert np.allclose(loaded[name].xyxy, wanted, atol=1e-3)
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=store, classes=CLASSES)
    assert copy.import_tasks(done.path, "voc", as_="answer").added == 2
    assert _known(copy) == {"img000.jpeg": BOXES["img0"], "img001.jpeg": []}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(boxes(CLASSES, W, H), min_size=1, max_size=3))
def test_any_boxes_round_trip_by_path(sqlite_store, tmp_path: Path, labels: list[list[dict[str, Any]]]) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=len(labels), classes=CLASSES)
    label(project, "ana", {f"img{i}": boxes for i, boxes in enumerate(labels)})
    done = project.export(tmp_path / f"voc-{uuid.uuid4().hex[:6]}", "voc")
    assert not (done.path / "JPEGImages").exists()
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=sqlite_store, classes=CLASSES)
    copy.import_tasks(done.path, "voc", as_="answer")
    # exactly (<path> is the original), but for boxes under a pixel, written and read 1 pixel wide or high
    widened = [[{**b, "w": max(b["w"], 1.0), "h": max(b["h"], 1.0)} for b in boxes] for boxes in labels]
    assert _known(copy) == {f"img{i:03d}.jpeg": boxes for i, boxes in enumerate(widened)}


def test_unknown_classes_name_the_file_and_line(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=CLASSES)
    label(project, "ana", {"img0": BOXES["img0"], "img1": []})
    done = project.export(tmp_path / "voc", "voc")
    other = crowdnb.Project.create("cats", "bbox", store=sqlite_store, classes=["cat", "고양이"])
    with pytest.raises(ValidationError) as caught:
        other.import_tasks(done.path, "voc", as_="answer")
    [problem] = caught.value.problems
    assert (problem.row, problem.field) == ("Annotations/img000.xml:15", "label")
    lines = (done.path / "Annotations" / "img000.xml").read_text().splitlines()
    assert lines[14].strip() == "<object>" and lines[15].strip() == "<name>dog &amp; &lt;friends&gt;</name>"
    assert "class 'dog & <friends>' is not one of the project's classes" in problem.message
    assert len(other.tasks()) == 0


def test_a_document_type_declaration_and_bad_xml_are_refused(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=2, classes=CLASSES)
    label(project, "ana", {"img0": [], "img1": []})
    done = project.export(tmp_path / "voc", "voc")
    laughs = '<!ENTITY a "lol">' + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    (done.path / "Annotations" / "img000.xml").write_text(f'<?xml version="1.0"?>\n<!DOCTYPE annotation [{laughs}]><annotation>&i;</annotation>')
    (done.path / "Annotations" / "img001.xml").write_text("<annotation>\n<object>\n</annotation>")
    with pytest.raises(ValidationError) as caught:
        list(formats.read(done.path, "voc", kind="bbox", config=project.config))
    assert [(p.row, p.message) for p in caught.value.problems] == [
        ("Annotations/img000.xml", "not a VOC annotation: declares a DTD, which VOC files never do; refused"),
        ("Annotations/img001.xml", "not a VOC annotation: mismatched tag: line 3, column 2"),
    ]


def test_several_workers_need_a_choice(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=1, overlap=2, classes=CLASSES)
    label(project, "ana", {"img0": []})
    label(project, "ben", {"img0": BOXES["img0"]})
    with pytest.raises(ValueError, match="aggregated=True"):
        project.export(tmp_path / "voc", "voc")
    done = project.export(tmp_path / "voc", "voc", workers=["ben"])
    assert done.counts.objects == 2


def test_tasks_on_one_image_each_have_their_annotation(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=1, classes=CLASSES)
    project.add_tasks(pd.DataFrame({"id": ["again"], "image": [str(tmp_path / "img" / "img000.jpeg")]}))
    label(project, "ana", {"img0": BOXES["img0"][:1], "again": BOXES["img0"][1:]})
    done = project.export(tmp_path / "voc", "voc", media="copy")
    assert (done.path / "ImageSets" / "Main" / "default.txt").read_text() == "img000\nimg000_1\n"
    assert sorted(p.name for p in (done.path / "JPEGImages").iterdir()) == ["img000.jpeg", "img000_1.jpeg"]
    read = [(r["id"], Path(r["image"]).name, r["label"]) for piece in formats.read(done.path, "voc", kind="bbox", config=project.config) for r in piece.to_dict("records")]
    assert read == [("img0", "img000.jpeg", BOXES["img0"][:1]), ("again", "img000_1.jpeg", BOXES["img0"][1:])]  # crowdnb_tasks.jsonl


def _one_image_export(sqlite_store, tmp_path: Path, boxes: list[dict[str, Any]]) -> tuple[crowdnb.Project, Path]:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=1, classes=CLASSES)
    label(project, "ana", {"img0": boxes})
    return project, project.export(tmp_path / "voc", "voc", media="copy").path


def test_listed_stems_and_filenames_outside_the_folder_are_refused(sqlite_store, tmp_path: Path) -> None:
    project, out = _one_image_export(sqlite_store, tmp_path, BOXES["img0"])
    (tmp_path / "evil.xml").write_text((out / "Annotations" / "img000.xml").read_text())
    listing = out / "ImageSets" / "Main" / "default.txt"
    listing.write_text("img000\n../../evil\n..\n/etc/passwd\n")
    annotation = out / "Annotations" / "img000.xml"
    annotation.write_text(annotation.read_text().replace("<filename>img000.jpeg</filename>", "<filename>../../../../etc/passwd</filename>"))
    with pytest.raises(ValidationError) as caught:
        list(formats.read(out, "voc", kind="bbox", config=project.config))
    assert [(p.row, p.field) for p in caught.value.problems] == [
        ("ImageSets/Main/default.txt:2", "id"),
        ("ImageSets/Main/default.txt:3", "id"),
        ("ImageSets/Main/default.txt:4", "id"),
        ("Annotations/img000.xml", "image"),
    ]
    messages = [p.message for p in caught.value.problems]
    assert "'../../evil'" in messages[0] and "'..'" in messages[1] and "'/etc/passwd'" in messages[2]
    assert "'../../../../etc/passwd'" in messages[3] and all("refused" in m for m in messages)


def test_a_box_under_a_pixel_is_written_one_pixel_wide_and_said_so(sqlite_store, tmp_path: Path) -> None:
    thin = [{"label": "cat", "x": 10.0, "y": 4.25, "w": 0.5, "h": 0.5}, {"label": "cat", "x": 3.0, "y": 2.0, "w": 5.0, "h": 0.25}]
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=1, classes=CLASSES)
    label(project, "ana", {"img0": thin})
    done = project.export(tmp_path / "voc", "voc", media="copy")
    assert done.counts.skipped == ["2 box(es) less than a pixel wide or high: written one pixel so (VOC's xmax >= xmin); they read back 1 pixel wide"]
    root = ET.parse(done.path / "Annotations" / "img000.xml").getroot()
    corners = [[float(o.findtext(f"bndbox/{c}")) for c in ("xmin", "ymin", "xmax", "ymax")] for o in root.findall("object")]
    assert corners == [[11, 5.25, 11, 5.25], [4, 3, 8, 3]]
    assert all(xmin <= xmax and ymin <= ymax for xmin, ymin, xmax, ymax in corners)
    [piece] = formats.read(done.path, "voc", kind="bbox", config=project.config)
    assert piece["label"].tolist() == [[{**thin[0], "w": 1.0, "h": 1.0}, {**thin[1], "h": 1.0}]]


def test_boxes_from_the_left_edge_of_a_zero_based_file_are_clipped_with_a_warning(sqlite_store, tmp_path: Path) -> None:
    project, out = _one_image_export(sqlite_store, tmp_path, [{"label": "cat", "x": 0.0, "y": 4.0, "w": 10.0, "h": 6.0}])
    annotation = out / "Annotations" / "img000.xml"
    text = annotation.read_text()
    assert "<xmin>1</xmin>" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # crowdnb's own files: no warning, exact
        [piece] = formats.read(out, "voc", kind="bbox", config=project.config)
    assert piece["label"].tolist() == [[{"label": "cat", "x": 0.0, "y": 4.0, "w": 10.0, "h": 6.0}]]
    annotation.write_text(text.replace("<xmin>1</xmin>", "<xmin>0</xmin>"))  # as a 0-based tool writes it
    with pytest.warns(UserWarning, match=r"1 box\(es\) with xmin or ymin below 1 .*Annotations/img000.xml:\d+"):
        [piece] = formats.read(out, "voc", kind="bbox", config=project.config)
    assert piece["label"].tolist() == [[{"label": "cat", "x": 0.0, "y": 4.0, "w": 10.0, "h": 6.0}]]


IDS = {"a/1": BOXES["img0"][:1], "b-2": [], "사진3": BOXES["img0"][1:], "사진3 again": BOXES["img0"]}  # the last on 사진3's image


@pytest.mark.parametrize("media", ["path", "copy"])
def test_task_ids_come_back_from_the_index(sqlite_store, tmp_path: Path, media: str) -> None:
    project = crowdnb.Project.create(f"named-{uuid.uuid4().hex[:6]}", "bbox", store=sqlite_store, classes=CLASSES)
    paths = [str(p) for p in write_images(tmp_path / "img", 3, size=(W, H))]
    project.add_tasks(pd.DataFrame({"id": list(IDS), "image": [*paths, paths[2]]}))
    label(project, "ana", IDS)
    done = project.export(tmp_path / "voc", "voc", media=media)
    stems = ["img000", "img001", "img002", "img002_1"]
    assert (done.path / "ImageSets" / "Main" / "default.txt").read_text().split() == stems
    index = [json.loads(line) for line in (done.path / "crowdnb_tasks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert index == [{"file": f"Annotations/{stem}.xml", "id": task} for stem, task in zip(stems, IDS, strict=True)]
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=sqlite_store, classes=CLASSES)
    assert copy.import_tasks(done.path, "voc", as_="answer").added == 4
    tasks = copy.tasks()
    assert dict(zip(tasks["id"], tasks["known_answer"], strict=True)) == IDS
    if media == "copy":  # the index does not disturb supervision's reading
        dataset = sv.DetectionDataset.from_pascal_voc(str(done.path / "JPEGImages"), str(done.path / "Annotations"))
        loaded = {Path(path).name: [dataset.classes[c] for c in found.class_id] for path, _, found in dataset}
        assert loaded == {f"{stem}.jpeg": [b["label"] for b in boxes] for stem, boxes in zip(stems, IDS.values(), strict=True)}
    (done.path / "crowdnb_tasks.jsonl").unlink()  # a folder made elsewhere: ids are the annotations' stems
    read = [r["id"] for piece in formats.read(done.path, "voc", kind="bbox", config=project.config) for r in piece.to_dict("records")]
    assert read == stems


def test_class_names_with_markup_quotes_and_korean_round_trip_through_the_xml(sqlite_store, tmp_path: Path) -> None:
    classes = ['say "냥" & <meow>', "a&amp;b", "]]> 'x'"]
    boxes = [{"label": name, "x": 1.0 + i, "y": 2.0, "w": 5.5, "h": 4.0} for i, name in enumerate(classes)]
    project = crowdnb.Project.create(f'p & <q> "사진" {uuid.uuid4().hex[:6]}', "bbox", store=sqlite_store, classes=classes)
    folder = tmp_path / 'a & <b> "c"'
    [path] = write_images(folder, 1, size=(W, H))
    project.add_tasks(pd.DataFrame({"id": ["t&<1>"], "image": [str(path)]}))
    label(project, "ana", {"t&<1>": boxes})
    done = project.export(tmp_path / "voc", "voc")
    text = (done.path / "Annotations" / "img000.xml").read_text(encoding="utf-8")
    assert "<name>say \"냥\" &amp; &lt;meow&gt;</name>" in text and "<name>a&amp;amp;b</name>" in text and "<name>]]&gt; 'x'</name>" in text
    root = ET.parse(done.path / "Annotations" / "img000.xml").getroot()
    assert [o.findtext("name") for o in root.findall("object")] == classes
    assert (root.findtext("folder"), root.findtext("path"), root.findtext("source/database")) == (folder.name, str(path), project.name)
    images = tmp_path / "images"  # supervision wants the images beside a folder of annotations
    images.mkdir()
    (images / path.name).write_bytes(path.read_bytes())
    dataset = sv.DetectionDataset.from_pascal_voc(str(images), str(done.path / "Annotations"))
    [(_, _, found)] = list(dataset)
    assert [dataset.classes[c] for c in found.class_id] == classes
    copy = crowdnb.Project.create(f"copy-{uuid.uuid4().hex[:6]}", "bbox", store=sqlite_store, classes=classes)
    assert copy.import_tasks(done.path, "voc", as_="answer").added == 1
    tasks = copy.tasks()
    assert (tasks["id"].tolist(), tasks["known_answer"].tolist(), Path(tasks["payload"][0]["image"])) == (["t&<1>"], [boxes], path)


def test_the_template_writes_what_elementtree_wrote(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", n=2, classes=CLASSES)
    label(project, "ana", BOXES)
    done = project.export(tmp_path / "voc", "voc", media="copy")
    for name in ("img000.xml", "img001.xml"):
        written = (done.path / "Annotations" / name).read_bytes()
        tree = ET.ElementTree(ET.fromstring(written))
        ET.indent(tree)
        again = tmp_path / name
        tree.write(again, encoding="utf-8", xml_declaration=True)
        assert written == again.read_bytes()
