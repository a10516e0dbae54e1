"""Label Studio JSON: every kind out and back in, checked with Label Studio's own converter."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from conftest import image_project, label, text_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import crowdnb
from crowdnb import formats, kinds
from crowdnb.errors import ValidationError
from crowdnb.formats.base import Answer, Context, Item, Options
from crowdnb.formats.label_studio import FORMAT, IMAGE_KINDS, labeling_config

TEXT = "Ana 🙂 lives in 東京 with Bob"
SPANS = [
    {"start": 0, "end": 3, "label": "PER", "text": "Ana"},
    {"start": 15, "end": 17, "label": "LOC", "text": "東京"},
    {"start": 23, "end": 26, "label": "PER", "text": "Bob"},
]
KINDS: list[tuple[str, dict[str, Any], Any]] = [
    ("image-class", {"classes": ["cat", "dog"]}, "dog"),
    ("image-multilabel", {"classes": ["cat", "dog", "bird"]}, ["cat", "bird"]),
    ("bbox", {"classes": ["cat", "dog"]}, [
        {"label": "dog", "x": 3.25, "y": 4.5, "w": 20.0, "h": 10.75}, {"label": "cat", "x": 0.0, "y": 0.0, "w": 64.0, "h": 48.0},
    ]),
    ("polygon", {"classes": ["cat", "dog"]}, [{"label": "cat", "points": [[1.0, 1.0], [30.5, 2.0], [15.0, 40.25]]}]),
    ("keypoints", {"points": ["nose", "left_eye", "right_eye"]}, [
        {"name": "nose", "x": 10.0, "y": 12.5, "visible": True}, {"name": "left_eye", "x": None, "y": None, "visible": False},
        {"name": "right_eye", "x": 20.0, "y": 5.0, "visible": True},
    ]),
    ("ocr", {}, [
        {"box": {"x": 2.0, "y": 3.0, "w": 30.0, "h": 8.5}, "text": "出口 EXIT"}, {"box": {"x": 5.0, "y": 20.0, "w": 10.0, "h": 10.0}, "text": "2"},
    ]),
    ("ocr", {"shape": "quad"}, [{"quad": [[1.0, 1.0], [20.0, 2.0], [19.0, 12.0], [1.0, 11.0]], "text": "café ☕"}]),
    ("caption", {}, "a cat on a mat 🐈"),
    ("text-class", {"classes": ["food", "weather"]}, "weather"),
    ("text-multilabel", {"classes": ["food", "weather", "travel"]}, ["weather", "travel"]),
    ("spans", {"classes": ["PER", "LOC"]}, SPANS),
    ("qa", {}, {"turns": [
        {"question": "Where does Ana live?", "answer": "東京"}, {"question": "With whom? 🙂", "answer": "Bob"},
    ]}),
    ("free-text", {"prompt": "Summarize"}, "Ana lives in Tokyo ✓"),
]


def _project(store, tmp_path: Path, kind: str, options: dict[str, Any], **more: Any) -> crowdnb.Project:
    if kind in IMAGE_KINDS:
        return image_project(store, tmp_path / "img", kind, 2, **options, **more)
    return text_project(store, [TEXT, "plain"], kind, **options, **more)


def _read(path: Path, kind: str, config: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    """The rows read, a missing label as None (pandas makes it NaN in a column of strings)."""
    return [
        {"source": source, **row, "label": row["label"] if row["label"] == row["label"] else None}
        for piece in formats.read(path, "label-studio", kind=kind, config=config, **options)
        for source, row in piece.to_dict("index").items()
    ]


def _tasks(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("kind", "options", "given_label"), KINDS, ids=[f"{k}-{o.get('shape', '')}" for k, o, _ in KINDS])
def test_every_kind_round_trips_and_imports(
    sqlite_store, tmp_path: Path, kind: str, options: dict[str, Any], given_label: Any,
) -> None:
    project = _project(sqlite_store, tmp_path, kind, options)
    first = project.tasks()["id"].iloc[0]
    label(project, "ana", {first: given_label})
    stored = project.labels()["label"].iloc[0]
    done = project.export(tmp_path / "tasks.json", "label-studio")
    assert (done.counts.tasks, done.counts.labels) == (2, 1)
    rows = _read(done.path, kind, project.config)
    assert [(r["id"], r["label"]) for r in rows] == [(first, stored), (project.tasks()["id"].iloc[1], None)]
    copy = crowdnb.Project.create(f"copy-{project.name}", kind, store=sqlite_store, **options)
    assert copy.import_tasks(done.path, "label-studio").added == 2
    payloads = project.tasks()["payload"].tolist()
    assert copy.tasks()["payload"].tolist() == [{**payloads[0], "prediction": stored}, payloads[1]]


def test_raw_export_on_every_store_keeps_workers_and_percent_boxes(store, tmp_path: Path) -> None:
    project = image_project(store, tmp_path / "img", "bbox", overlap=2, size=(80, 40), classes=["cat", "dog"])
    box = [{"label": "cat", "x": 8.0, "y": 4.0, "w": 40.0, "h": 10.0}]
    label(project, "ana", {"img0": box, "img1": []})
    label(project, "ben", {"img0": box})
    done = project.export(tmp_path / "raw.json", "label-studio")
    tasks = _tasks(done.path)
    assert [t["data"]["crowdnb_id"] for t in tasks] == ["img0", "img1", "img2"]
    first = tasks[0]["annotations"]
    assert [a["completed_by"]["email"] for a in first] == ["ana", "ben"]
    assert len({a["id"] for t in tasks for a in t["annotations"]}) == 3
    again = _tasks(project.export(tmp_path / "again.json", "label-studio").path)
    assert first[0]["completed_by"] == again[0]["annotations"][0]["completed_by"]
    result = first[0]["result"][0]
    assert result["type"] == "rectanglelabels" and (result["original_width"], result["original_height"]) == (80, 40)
    assert result["value"] == {"x": 10.0, "y": 10.0, "width": 50.0, "height": 25.0, "rotation": 0, "rectanglelabels": ["cat"]}
    rows = _read(done.path, "bbox", project.config)
    assert [(r["id"], r["label"]) for r in rows] == [("img0", box), ("img0", box), ("img1", []), ("img2", None)]


def test_aggregated_export_writes_predictions_with_confidence(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, ["a", "b"], "text-class", overlap=2, classes=["food", "weather"])
    label(project, "ana", {"t0": "food", "t1": "weather"})
    label(project, "ben", {"t0": "food", "t1": "food"})
    done = project.export(tmp_path / "agg.json", "label-studio", aggregated=True, method="majority-vote")
    results = project.results("majority-vote")
    tasks = _tasks(done.path)
    assert [t["annotations"] for t in tasks] == [[], []]
    written = [(p["model_version"], p["score"]) for t in tasks for p in t["predictions"]]
    assert written == [("crowdnb-majority-vote", c) for c in results["confidence"]]
    assert [r["label"] for r in _read(done.path, "text-class", project.config)] == results["label"].tolist()


def test_aggregated_boxes_carry_each_box_agreement(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", 1, overlap=2, classes=["cat"])
    shared, lone = {"label": "cat", "x": 1.0, "y": 1.0, "w": 20.0, "h": 20.0}, {"label": "cat", "x": 40.0, "y": 20.0, "w": 10.0, "h": 10.0}
    label(project, "ana", {"img0": [shared, lone]})
    label(project, "ben", {"img0": [shared]})
    done = project.export(tmp_path / "agg.json", "label-studio", aggregated=True)
    aggregated = project.results()["label"].iloc[0]
    prediction = _tasks(done.path)[0]["predictions"][0]
    agreements = [box["agreement"] for box in aggregated if box["agreement"] == box["agreement"]]
    assert agreements and [r["score"] for r in prediction["result"] if "score" in r] == agreements


def test_labeling_config_names_every_class_and_label_studio_parses_it() -> None:
    from label_studio_converter.utils import parse_config

    for kind, options, _ in KINDS:
        config = kinds.get(kind).make_config(**options)
        xml = labeling_config(kind, config)
        names = {e.get("value") for e in ElementTree.fromstring(xml).iter() if e.tag in ("Choice", "Label")}
        assert names == set(config.get("classes") or config.get("points") or []), kind
        schema = parse_config(xml)
        assert schema and all(control["inputs"] for control in schema.values()), kind
    assert "&lt;b&gt;" in labeling_config("text-class", {"classes": ["<b>", "a \"q\""]})


def _converter(project: crowdnb.Project, tmp_path: Path):
    from label_studio_converter import Converter

    return Converter(config=labeling_config(project.kind, project.config), project_dir=str(tmp_path), download_resources=False)


def test_label_studio_converter_reads_our_boxes_as_coco_and_yolo(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", 2, size=(64, 48), classes=["dog", "cat"])
    boxes = [
        {"label": "dog", "x": 3.25, "y": 4.5, "w": 20.0, "h": 10.75}, {"label": "cat", "x": 30.0, "y": 0.0, "w": 34.0, "h": 48.0},
    ]
    label(project, "ana", {"img0": boxes, "img1": []})
    done = project.export(tmp_path / "tasks.json", "label-studio")
    converter = _converter(project, tmp_path)
    converter.convert_to_coco(str(done.path), str(tmp_path / "coco"), is_dir=False)
    coco = json.loads((tmp_path / "coco" / "result.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert [(img["width"], img["height"]) for img in coco["images"]] == [(64, 48), (64, 48)]
    found = [(names[a["category_id"]], a["bbox"]) for a in coco["annotations"]]
    assert [n for n, _ in found] == ["dog", "cat"]
    for (_, bbox), box in zip(found, boxes, strict=True):
        assert bbox == pytest.approx([box["x"], box["y"], box["w"], box["h"]])
    converter.convert_to_yolo(str(done.path), str(tmp_path / "yolo"), is_dir=False)
    classes = (tmp_path / "yolo" / "classes.txt").read_text().split()
    lines = [line.split() for line in (tmp_path / "yolo" / "labels" / "img000.txt").read_text().splitlines()]
    for line, box in zip(lines, boxes, strict=True):
        assert classes[int(line[0])] == box["label"]
        expected = [(box["x"] + box["w"] / 2) / 64, (box["y"] + box["h"] / 2) / 48, box["w"] / 64, box["h"] / 48]
        assert [float(v) for v in line[1:]] == pytest.approx(expected)
    assert (tmp_path / "yolo" / "labels" / "img001.txt").read_text() == ""


def test_label_studio_converter_reads_our_polygons_as_coco(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "polygon", 1, classes=["cat"])
    points = [[1.0, 1.0], [30.5, 2.0], [15.0, 40.25]]
    label(project, "ana", {"img0": [{"label": "cat", "points": points}]})
    done = project.export(tmp_path / "tasks.json", "label-studio")
    _converter(project, tmp_path).convert_to_coco(str(done.path), str(tmp_path / "coco"), is_dir=False)
    (annotation,) = json.loads((tmp_path / "coco" / "result.json").read_text())["annotations"]
    assert annotation["segmentation"][0] == pytest.approx([v for p in points for v in p])


def test_label_studio_converter_reads_our_spans_as_conll_in_code_points(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, ["🙂🙂 Ana met Bob in Paris ."], "spans", classes=["PER", "LOC"])
    spans = [{"start": 3, "end": 6, "label": "PER"}, {"start": 11, "end": 14, "label": "PER"}, {"start": 18, "end": 23, "label": "LOC"}]
    label(project, "ana", {"t0": spans})
    done = project.export(tmp_path / "tasks.json", "label-studio")
    _converter(project, tmp_path).convert_to_conll2003(str(done.path), str(tmp_path / "conll"), is_dir=False)
    lines = (tmp_path / "conll" / "result.conll").read_text(encoding="utf-8").splitlines()
    tags = {line.split()[0]: line.split()[-1] for line in lines[1:] if line}
    expected = {"Ana": "B-PER", "met": "O", "Bob": "B-PER", "in": "O", "Paris": "B-LOC"}
    assert {token: tags[token] for token in expected} == expected


def test_label_studio_converter_reads_our_classes_texts_and_annotators_as_csv(sqlite_store, tmp_path: Path) -> None:
    rows = {}
    for kind, options, given_label in (case for case in KINDS if case[0] in ("text-class", "qa", "free-text")):
        project = _project(sqlite_store, tmp_path, kind, options)
        label(project, "ana", {"t0": given_label})
        done = project.export(tmp_path / f"{kind}.json", "label-studio")
        _converter(project, tmp_path).convert_to_csv(str(done.path), str(tmp_path / kind), is_dir=False, sep=",", header=True)
        with (tmp_path / kind / "result.csv").open(encoding="utf8") as handle:
            rows[kind] = next(csv.DictReader(handle))
    assert rows["text-class"]["class"] == "weather" and rows["text-class"]["annotator"] == "ana"
    assert rows["free-text"]["response"] == "Ana lives in Tokyo ✓"
    assert json.loads(rows["qa"]["question"]) == {"text": ["Where does Ana live?", "With whom? 🙂"]}
    assert json.loads(rows["qa"]["answer"]) == {"text": ["東京", "Bob"]}


def _yolo_dataset(folder: Path, classes: list[str], lines: list[str]) -> Path:
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    Image.new("RGB", (64, 48)).save(folder / "images" / "a.png")
    (folder / "labels" / "a.txt").write_text("\n".join(lines) + "\n")
    (folder / "classes.txt").write_text("\n".join(classes) + "\n")
    return folder


def test_label_studio_yolo_import_reads_imports_and_exports_back(sqlite_store, tmp_path: Path) -> None:
    from label_studio_converter.imports.yolo import convert_yolo_to_ls

    folder = _yolo_dataset(tmp_path / "yolo", ["cat", "dog"], ["0 0.5 0.5 0.25 0.5", "1 0.125 0.25 0.25 0.5"])
    tasks = tmp_path / "ls.json"
    convert_yolo_to_ls(str(folder), str(tasks), image_root_url=str(folder / "images"), image_ext=".png")
    expected = [
        {"label": "cat", "x": 24.0, "y": 12.0, "w": 16.0, "h": 24.0}, {"label": "dog", "x": 0.0, "y": 0.0, "w": 16.0, "h": 24.0},
    ]
    project = crowdnb.Project.create("from-yolo", "bbox", store=sqlite_store, classes=["cat", "dog"])
    (row,) = _read(tasks, "bbox", project.config)
    assert (row["id"], row["image"], row["label"]) == (None, str(folder / "images" / "a.png"), expected)
    assert project.import_tasks(tasks, "label-studio", as_="answer").added == 1
    assert project.tasks()["known_answer"].iloc[0] == expected
    label(project, "ana", {project.tasks()["id"].iloc[0]: expected})
    back = _read(project.export(tmp_path / "back.json", "label-studio").path, "bbox", project.config)
    assert [r["label"] for r in back] == [expected]


def test_unknown_classes_name_the_task_and_class_and_nothing_is_stored(sqlite_store, tmp_path: Path) -> None:
    from label_studio_converter.imports.yolo import convert_yolo_to_ls

    folder = _yolo_dataset(tmp_path / "yolo", ["cat", "bird"], ["1 0.5 0.5 0.25 0.5"])
    tasks = tmp_path / "ls.json"
    convert_yolo_to_ls(str(folder), str(tasks), image_root_url=str(folder / "images"), image_ext=".png")
    project = crowdnb.Project.create("strict", "bbox", store=sqlite_store, classes=["cat", "dog"])
    with pytest.raises(ValidationError) as caught:
        project.import_tasks(tasks, "label-studio")
    (problem,) = caught.value.problems
    assert problem.row == "ls.json:task 1 annotation 1" and "'bird'" in problem.message
    assert len(project.tasks()) == 0


def test_reading_skips_cancelled_uses_the_best_prediction_and_finds_local_files(tmp_path: Path) -> None:
    Image.new("RGB", (50, 20)).save(tmp_path / "b.png")
    choice = lambda name: [{"type": "choices", "from_name": "x", "to_name": "y", "value": {"choices": [name]}}]  # noqa: E731
    tasks = [
        {"id": 7, "data": {"image": "/data/local-files/?d=b.png"}, "annotations": [
            {"id": 1, "was_cancelled": True, "result": choice("dog")}, {"id": 2, "result": choice("cat")},
        ], "predictions": [{"score": 0.9, "result": choice("dog")}]},
        {"id": 8, "data": {"img": "b.png"}, "annotations": [{"id": 3, "was_cancelled": True, "result": []}], "predictions": [
            {"score": 0.2, "result": choice("cat")}, {"score": 0.7, "result": choice("dog")},
        ]},
        {"id": 9, "data": {"image": "b.png"}, "annotations": [
            {"id": 4, "result": choice("sports")}, {"id": 5, "result": choice("dogs")},
        ]},
        ["not a task"],
    ]
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(ValidationError) as caught:
        _read(path, "image-class", {"classes": ["cat", "dog"]}, media_root=str(tmp_path))
    assert [(p.row, p.field) for p in caught.value.problems] == [
        ("tasks.json:task 9 annotation 4", "label"), ("tasks.json:task 9 annotation 5", "label"), ("tasks.json:task 4", "data"),
    ]
    assert "'sports'" in caught.value.problems[0].message
    path.write_text(json.dumps(tasks[:2]))
    rows = _read(path, "image-class", {"classes": ["cat", "dog"]}, media_root=str(tmp_path))
    assert [(r["source"], r["id"], r["image"], r["label"]) for r in rows] == [
        ("tasks.json:task 7 annotation 2", "7", str(tmp_path / "b.png"), "cat"),
        ("tasks.json:task 8 prediction", "8", str(tmp_path / "b.png"), "dog"),
    ]


def test_boxes_without_an_original_size_are_measured_from_the_image(tmp_path: Path) -> None:
    Image.new("RGB", (50, 20)).save(tmp_path / "b.png")
    box = {"type": "rectanglelabels", "value": {"x": 10, "y": 50, "width": 20, "height": 25, "rectanglelabels": ["cat"]}}
    (tmp_path / "one.json").write_text(json.dumps({"data": {"image": "b.png"}, "annotations": [{"result": [box]}]}))
    (row,) = _read(tmp_path / "one.json", "bbox", {"classes": ["cat"]})
    assert row["label"] == [{"label": "cat", "x": 5.0, "y": 10.0, "w": 10.0, "h": 5.0}]


def test_old_utf16_offsets_are_read_as_code_points(tmp_path: Path) -> None:
    text = "💩This is an annotation."  # Label Studio issue #1347: UTF-16 offsets 13-23
    span = {"type": "labels", "value": {"start": 13, "end": 23, "text": "annotation", "labels": ["Thing"]}}
    (tmp_path / "old.json").write_text(json.dumps([{"id": 1, "data": {"text": text}, "annotations": [{"result": [span]}]}]))
    (row,) = _read(tmp_path / "old.json", "spans", {"classes": ["Thing"], "allow_overlap": False})
    assert row["label"] == [{"start": 12, "end": 22, "label": "Thing", "text": "annotation"}]


def test_a_url_image_without_a_size_skips_geometry_but_not_the_task(tmp_path: Path) -> None:
    context = Context("p", kinds.get("bbox"), {"classes": ["cat"]})
    box = {"label": "cat", "x": 1, "y": 1, "w": 2, "h": 2}
    item = Item("u0", {"image_url": "https://example.com/a.jpg"}, {}, [Answer([box], worker="ana")])
    counts = FORMAT.write(iter([item]), tmp_path / "u.json", context)
    assert (counts.tasks, counts.labels, len(counts.skipped)) == (1, 0, 1) and "size" in counts.skipped[0]
    assert _tasks(tmp_path / "u.json") == [
        {"id": 1, "data": {"image": "https://example.com/a.jpg", "crowdnb_id": "u0"}, "meta": {}, "annotations": [], "predictions": []},
    ]


def _round_trip(kind: str, config: dict[str, Any], payload: dict[str, Any], label_: Any, out: Path) -> Any:
    context = Context("p", kinds.get(kind), config, Options())
    FORMAT.write(iter([Item("x", payload, {}, [Answer(label_, worker="w")])]), out, context)
    return [row for piece in FORMAT.read(out, context) for row in piece["label"]]


def _coordinate(limit: int) -> st.SearchStrategy[float]:
    return st.integers(0, limit * 100).map(lambda v: v / 100)


@st.composite
def _boxes(draw: st.DrawFn) -> tuple[tuple[int, int], list[dict[str, Any]]]:
    width, height = draw(st.integers(1, 5000)), draw(st.integers(1, 5000))
    boxes = []
    for _ in range(draw(st.integers(0, 4))):
        x, y = draw(_coordinate(width - 1)), draw(_coordinate(height - 1))
        w = draw(st.integers(1, round((width - x) * 100)).map(lambda v: v / 100))
        h = draw(st.integers(1, round((height - y) * 100)).map(lambda v: v / 100))
        boxes.append({"label": draw(st.sampled_from(["cat", "狗", "🐦"])), "x": x, "y": y, "w": w, "h": h})
    return (width, height), boxes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_boxes())
def test_boxes_round_trip_through_percent(tmp_path: Path, drawn: tuple[tuple[int, int], list[dict[str, Any]]]) -> None:
    (width, height), boxes = drawn
    payload = {"image": "/images/a.png", "width": width, "height": height, "format": "PNG"}
    assert _round_trip("bbox", {"classes": ["cat", "狗", "🐦"]}, payload, boxes, tmp_path / "b.json") == [boxes]
    for result in _tasks(tmp_path / "b.json")[0]["annotations"][0]["result"]:
        value = result["value"]
        assert 0 <= value["x"] <= value["x"] + value["width"] <= 100 + 1e-9
        assert 0 <= value["y"] <= value["y"] + value["height"] <= 100 + 1e-9


@st.composite
def _spans(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    text = draw(st.text(st.sampled_from("ab 東京서울🙂👨‍👩‍👧é\u0301\n"), min_size=1, max_size=40))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=8)))
    spans = [
        {"start": start, "end": end, "label": draw(st.sampled_from(["PER", "LOC"])), "text": text[start:end]}
        for start, end in zip(cuts[::2], cuts[1::2]) if start < end
    ]
    return text, spans


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_spans())
def test_spans_round_trip_in_code_points(tmp_path: Path, drawn: tuple[str, list[dict[str, Any]]]) -> None:
    text, spans = drawn
    config = {"classes": ["PER", "LOC"], "allow_overlap": False}
    assert _round_trip("spans", config, {"text": text}, spans, tmp_path / "s.json") == [spans]
    for result in _tasks(tmp_path / "s.json")[0]["annotations"][0]["result"]:
        assert text[result["value"]["start"]:result["value"]["end"]] == result["value"]["text"]


def test_a_long_file_is_read_a_task_at_a_time_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crowdnb.formats import label_studio

    monkeypatch.setattr(label_studio, "CHUNK", 7)
    monkeypatch.setattr(label_studio, "BATCH", 40)
    choice = {"type": "choices", "value": {"choices": ["food"]}}
    tasks = [{"id": i, "data": {"text": f"t{i} 🙂 \"]\""}, "annotations": [{"result": [choice]}]} for i in range(100)]
    path = tmp_path / "long.json"
    path.write_text(json.dumps(tasks, indent=2, ensure_ascii=False), encoding="utf-8")
    context = Context("p", kinds.get("text-class"), {"classes": ["food"]})
    pieces = list(FORMAT.read(path, context))
    assert [len(p) for p in pieces] == [40, 40, 20]
    assert [t for p in pieces for t in p["text"]] == [t["data"]["text"] for t in tasks]
    path.write_text(json.dumps(tasks[:3])[:-30], encoding="utf-8")
    with pytest.raises(ValidationError, match="not Label Studio JSON") as caught:
        list(FORMAT.read(path, context))
    assert caught.value.problems[0].row == "long.json"


def test_copied_images_are_found_beside_the_file(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "image-class", 1, classes=["cat", "dog"])
    label(project, "ana", {"img0": "cat"})
    done = project.export(tmp_path / "out" / "tasks.json", "label-studio")
    tasks = _tasks(done.path)
    source = Path(tasks[0]["data"]["image"])
    (tmp_path / "out" / "images").mkdir()
    shutil.copyfile(source, tmp_path / "out" / "images" / source.name)
    ref = tasks[0]["data"]["image"] = f"images/{source.name}"  # as a file shipped with its images beside it
    done.path.write_text(json.dumps(tasks), encoding="utf-8")
    (row,) = _read(done.path, "image-class", project.config)
    assert (row["image"], row["label"]) == (str(tmp_path / "out" / ref), "cat")


def _box(**value: Any) -> dict[str, Any]:
    value = {"x": 1, "y": 1, "width": 5, "height": 5, "rectanglelabels": ["cat"], **value}
    return {"type": "rectanglelabels", "original_width": 100, "original_height": 50, "value": value}


def _point(name: str) -> dict[str, Any]:
    return {"type": "keypointlabels", "original_width": 9, "original_height": 9, "value": {"x": 1, "y": 1, "keypointlabels": [name]}}


BAD = [
    ("bbox", {"classes": ["cat"]}, [_box(rotation=30)], "rotated by 30 degrees"),
    ("bbox", {"classes": ["cat"]}, [_box(rectanglelabels=[])], "without a class"),
    ("bbox", {"classes": ["cat"]}, [_box(width=None)], "needs numbers x, y, width and height"),
    ("ocr", {"shape": "box"}, [{"id": "a", "type": "polygon", "value": {"points": [[1, 1], [2, 2], [3, 1]]}}], "is a polygon"),
    ("ocr", {"shape": "box"}, [{"id": "a", "type": "textarea", "value": {"text": ["EXIT"]}}], "no rectangle or polygon"),
    ("keypoints", {"points": ["nose"]}, [_point("tail")], "'tail' is not one of the project's points"),
    ("keypoints", {"points": ["nose"]}, [_point("nose"), _point("nose")], "placed twice"),
    ("image-class", {"classes": ["cat", "dog"]}, [{"type": "choices", "value": {"choices": ["cat", "dog"]}}], "one class"),
    ("caption", {}, [{"type": "textarea", "value": {"text": [1]}}], "list of strings"),
    ("spans", {"classes": ["PER"]}, [{"type": "labels", "value": {"start": 0, "end": 3, "text": "Bob", "labels": ["PER"]}}], "not its text 'Bob'"),
    ("qa", {}, [{"type": "textarea", "from_name": "question", "value": {"text": ["Why?"]}}], "1 question(s) but 0 answer(s)"),
]


@pytest.mark.parametrize(("kind", "config", "results", "message"), BAD, ids=[f"{case[0]}-{i}" for i, case in enumerate(BAD)])
def test_results_that_do_not_fit_the_kind_are_named(
    tmp_path: Path, kind: str, config: dict[str, Any], results: list[dict[str, Any]], message: str,
) -> None:
    data = {"image": "a.png"} if kind in IMAGE_KINDS else {"text": TEXT}
    tasks = [{"id": 5, "data": data, "annotations": [{"id": 6, "result": results}]}]
    (tmp_path / "bad.json").write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        _read(tmp_path / "bad.json", kind, kinds.get(kind).make_config(**config))
    (problem,) = caught.value.problems
    assert (problem.row, problem.field) == ("bad.json:task 5 annotation 6", "label") and message in problem.message


def test_images_under_media_root_are_written_as_label_studio_local_files(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "my images", "image-class", 1, classes=["cat", "dog"])
    label(project, "ana", {"img0": "dog"})
    done = project.export(tmp_path / "tasks.json", "label-studio", media_root=str(tmp_path))
    assert _tasks(done.path)[0]["data"]["image"] == "/data/local-files/?d=my%20images/img000.jpeg"
    (row,) = _read(done.path, "image-class", project.config, media_root=str(tmp_path))
    assert (row["image"], row["label"]) == (str(tmp_path / "my images" / "img000.jpeg"), "dog")


def test_label_studio_coco_import_reads_as_boxes_and_as_polygons(sqlite_store, tmp_path: Path) -> None:
    from label_studio_converter.imports.coco import convert_coco_to_ls

    Image.new("RGB", (80, 40)).save(tmp_path / "c.png")
    points = [[8.0, 4.0], [40.0, 4.0], [24.0, 30.0]]
    coco = {
        "images": [{"id": 1, "file_name": "c.png", "width": 80, "height": 40}],
        "categories": [{"id": 3, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [8, 4, 32, 26], "segmentation": [[v for p in points for v in p]]}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    tasks = tmp_path / "ls.json"
    convert_coco_to_ls(str(tmp_path / "coco.json"), str(tasks), image_root_url=str(tmp_path))
    (boxes,) = _read(tasks, "bbox", {"classes": ["cat"]})
    assert boxes["label"] == [{"label": "cat", "x": 8.0, "y": 4.0, "w": 32.0, "h": 26.0}]
    project = crowdnb.Project.create("from-coco", "polygon", store=sqlite_store, classes=["cat"])
    assert project.import_tasks(tasks, "label-studio").added == 1
    assert project.tasks()["payload"].iloc[0]["prediction"] == [{"label": "cat", "points": points}]
    label(project, "ana", {project.tasks()["id"].iloc[0]: [{"label": "cat", "points": points}]})
    back = _read(project.export(tmp_path / "back.json", "label-studio").path, "polygon", project.config)
    assert [r["label"] for r in back] == [[{"label": "cat", "points": points}]]


def test_label_studio_converter_reads_our_ocr_regions(sqlite_store, tmp_path: Path) -> None:
    kind, options, regions = next(case for case in KINDS if case[0] == "ocr")
    project = _project(sqlite_store, tmp_path, kind, options)
    label(project, "ana", {"img0": regions})
    done = project.export(tmp_path / "tasks.json", "label-studio")
    _converter(project, tmp_path).convert_to_json_min(str(done.path), str(tmp_path / "min"), is_dir=False)
    record = json.loads((tmp_path / "min" / "result.json").read_text(encoding="utf-8"))[0]
    assert record["transcription"] == [r["text"] for r in regions] and record["annotator"] == "ana"
    for box, region in zip(record["bbox"], regions, strict=True):
        pixels = [box["x"] * 64 / 100, box["y"] * 48 / 100, box["width"] * 64 / 100, box["height"] * 48 / 100]
        assert pixels == pytest.approx([region["box"][k] for k in ("x", "y", "w", "h")])


@pytest.mark.parametrize("chunk", [7, 1 << 20])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"data": {"text": "a"}} {"data": {"text": "b"}}]', "expected ',' or ']' after a task, found '{\"data\": {\"text\": \"b' at character 25"),
        ('[{"data": {"text": "a"}}, {"data": {"text": "b"}}] garbage', "data after the list of tasks: 'garbage' at character 51"),
        ('[{"data": {"text": "a"}}]\n[]', "data after the list of tasks: '[]' at character 26"),
        ('[{"data": {"text": "a"}},]', "Expecting value at character 25"),
        ('[{"data": {"text": "a"}}  ', "the list of tasks has no closing ']' at character 26"),
    ],
)
def test_tasks_need_commas_and_nothing_after_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str, chunk: int) -> None:
    from crowdnb.formats import label_studio

    monkeypatch.setattr(label_studio, "CHUNK", chunk)
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    context = Context("p", kinds.get("text-class"), {"classes": ["food"]})
    with pytest.raises(ValidationError) as caught:
        list(FORMAT.read(path, context))
    [problem] = caught.value.problems
    assert (problem.row, problem.field, problem.message) == ("bad.json", "file", f"not Label Studio JSON: {message}")


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_commas_and_whitespace_anywhere_between_tasks_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    from crowdnb.formats import label_studio

    monkeypatch.setattr(label_studio, "CHUNK", chunk)
    path = tmp_path / "ok.json"
    context = Context("p", kinds.get("text-class"), {"classes": ["food"]})
    for content, texts in (('  \n[ {"data": {"text": "a"}}\n ,\t{"data": {"text": "b"}} ]\n\n', ["a", "b"]), ("[ ]", []), ('{"data": {"text": "c"}}\n', ["c"])):
        path.write_text(content, encoding="utf-8")
        assert [t for p in FORMAT.read(path, context) for t in p["text"]] == texts
