"""COCO-Text and ICDAR 2015: OCR labels out and back in, checked the way their own readers
parse them (the COCO-Text API's index, the ICDAR 2015 evaluation script's line parsing)."""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import image_project, label, traced_peak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import crowdnb
from crowdnb import formats, kinds
from crowdnb.errors import ValidationError
from crowdnb.formats.base import Answer, Context, Item, Options
from crowdnb.formats.ocr import FORMATS

OCR = kinds.get("ocr")
WIDTH, HEIGHT = 640, 480
SIZE = (64, 48)  # of the conftest's images
# The official script's line for integer coordinates: 8 integers, then the transcription.
OFFICIAL_LINE = re.compile(r"^\s*" + r"\s*,\s*".join([r"(-?[0-9]+)"] * 8) + r"\s*,(.*)$")
SCRIPTS = list("東京タワーひらがなカタカナ서울역한국어中文漢字汉字🗼😀👍🏽é,\"\\# abcXYZ019")
TEXT_CHARS = st.one_of(st.sampled_from(SCRIPTS), st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"))


def official_regions(content: bytes) -> list[tuple[list[float], str]]:
    """An ICDAR gt file read as the ICDAR 2015 evaluation script does: UTF-8 (a BOM allowed),
    CRLF lines, ``split(',', 8)``, a double-quoted transcription unquoted, corners clockwise."""
    out = []
    for line in content.decode("utf-8-sig").split("\r\n"):
        line = line.replace("\r", "").replace("\n", "")
        if not line:
            continue
        parts = line.split(",", 8)
        points, text = [float(v) for v in parts[:8]], parts[8]
        quoted = re.match(r'^\s*"(.*)"\s*$', text)
        if quoted:
            text = quoted.group(1).replace("\\\\", "\\").replace('\\"', '"')
        corners = [points[i:i + 2] for i in range(0, 8, 2)]
        edges = sum((b[0] - a[0]) * (b[1] + a[1]) for a, b in zip(corners, corners[1:] + corners[:1]))
        assert edges <= 0, f"corners not clockwise: {line!r}"
        out.append((points, text))
    return out


def coco_text_index_ok(data: dict[str, Any]) -> None:
    """What the COCO-Text API reads: integer ids, every image's set, every annotation's
    category keys; imgToAnns lists each annotation under its image, once."""
    assert data["cats"] == {} and "info" in data
    assert all(int(k) == img["id"] and img["set"] in ("train", "val", "test") for k, img in data["imgs"].items())
    assert all(int(k) == ann["id"] for k, ann in data["anns"].items())
    for ann in data["anns"].values():
        assert {"bbox", "area", "utf8_string", "legibility", "language", "class", "mask"} <= ann.keys()
    assert data["imgToAnns"].keys() == data["imgs"].keys()
    listed = [a for ids in data["imgToAnns"].values() for a in ids]
    assert sorted(listed) == sorted(ann["id"] for ann in data["anns"].values())
    assert all(data["anns"][str(a)]["image_id"] == int(image) for image, ids in data["imgToAnns"].items() for a in ids)


def rows(path: Path, fmt: str, **kw: Any) -> list[dict[str, Any]]:
    return [row for piece in formats.read(path, fmt, kind="ocr", **kw) for row in piece.reset_index().to_dict("records")]


# Labels as hypothesis draws them: boxes, or quads clockwise (angles around a centre, y down).

def _coordinate(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(int(low * 100), int(high * 100)).map(lambda v: v / 100)


@st.composite
def regions(draw: st.DrawFn, shape: str, *, line_breaks: bool) -> dict[str, Any]:
    chars = TEXT_CHARS if line_breaks else TEXT_CHARS.filter(lambda c: c not in "\r\n")
    plain = st.text(chars, min_size=1, max_size=30)
    text = draw(st.one_of(plain, plain.map(lambda t: f'"{t}"')).filter(lambda t: t.strip() and t != "###"))  # quoted: ICDAR escapes
    if shape == "box":
        x, y = draw(_coordinate(0, 300)), draw(_coordinate(0, 200))
        return {"box": {"x": x, "y": y, "w": draw(_coordinate(0.01, 300)), "h": draw(_coordinate(0.01, 200))}, "text": text}
    cx, cy = draw(_coordinate(100, 540)), draw(_coordinate(100, 380))
    angles = [90 * i + draw(st.integers(0, 60)) for i in range(4)]  # one corner per quadrant
    radii = draw(st.lists(st.integers(5, 90), min_size=4, max_size=4))
    quad = [[round(cx + r * math.cos(math.radians(a)), 2), round(cy + r * math.sin(math.radians(a)), 2)] for a, r in zip(angles, radii)]
    return {"quad": quad, "text": text}


def close(read: list[dict[str, Any]], written: list[dict[str, Any]]) -> bool:
    """Same texts exactly, coordinates within 0.01."""
    def numbers(region: dict[str, Any]) -> list[float]:
        return [v for p in region["quad"] for v in p] if "quad" in region else [region["box"][k] for k in "xywh"]

    return len(read) == len(written) and all(
        a["text"] == b["text"] and all(abs(u - v) <= 0.01 + 1e-9 for u, v in zip(numbers(a), numbers(b), strict=True))
        for a, b in zip(read, written, strict=True)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=st.sampled_from(["coco-text", "icdar2015"]), shape=st.sampled_from(["box", "quad"]))
def test_texts_of_every_script_and_coordinates_round_trip(data: st.DataObject, fmt: str, shape: str) -> None:
    labels = data.draw(st.lists(st.lists(regions(shape, line_breaks=fmt == "coco-text"), max_size=4), min_size=1, max_size=3))
    config = OCR.make_config(shape=shape)
    context = Context("p", OCR, config)
    payloads = [{"image": f"/data/img_{i}.jpg", "width": WIDTH, "height": HEIGHT} for i in range(len(labels))]
    items = [Item(f"t{i}", payloads[i], {}, [Answer(lab, worker="ana", status="submitted")]) for i, lab in enumerate(labels)]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        chosen = FORMATS[fmt]
        if chosen.folder:
            out.mkdir()
        counts = chosen.write(iter(items), out, context)
        assert (counts.tasks, counts.labels, counts.objects) == (len(labels), len(labels), sum(map(len, labels)))
        if fmt == "coco-text":
            data_ = json.loads(out.read_text(encoding="utf-8"))
            coco_text_index_ok(data_)
            assert [a["utf8_string"] for a in data_["anns"].values()] == [r["text"] for lab in labels for r in lab]
        else:
            files = [out / f"gt_img_{i}.txt" for i in range(len(labels))]
            assert not any(f.read_bytes().startswith(b"\xef\xbb\xbf") for f in files)
            official = [text for f in files for _, text in official_regions(f.read_bytes())]
            assert official == [r["text"] for lab in labels for r in lab]
        found = rows(out, fmt, config=config)
    assert [r["id"] for r in found] == [item.id for item in items]
    assert [r["image"] for r in found] == [p["image"] for p in payloads]
    for row, lab, payload in zip(found, labels, payloads, strict=True):
        assert close(row["label"], lab), (row["label"], lab)
        assert OCR.validate_label(row["label"], config, payload) == row["label"]


def test_coco_text_raw_export_keeps_each_worker_and_reads_back(store, tmp_path: Path) -> None:
    project = image_project(store, tmp_path / "img", "ocr", overlap=2, size=SIZE, shape="quad")
    ana = [{"quad": [[1.5, 2], [30.25, 2.5], [30, 12], [1, 11.75]], "text": "東京タワー, 入口"}, {"quad": [[2, 20], [40, 20], [40, 30], [2, 30]], "text": "서울역 🚉"}]
    ben = [{"quad": [[1, 2], [30, 2], [30, 12], [1, 12]], "text": 'say "hi"\nthere'}]
    label(project, "ana", {"img0": ana, "img1": []})
    label(project, "ben", {"img0": ben})
    done = project.export(tmp_path / "text.json", "coco-text")
    assert (done.counts.tasks, done.counts.labels, done.counts.objects) == (3, 3, 3)
    data = json.loads(done.path.read_text(encoding="utf-8"))
    coco_text_index_ok(data)
    assert [img["crowdnb_workers"] for img in data["imgs"].values()] == [["ana", "ben"], ["ana"], []]
    anns = list(data["anns"].values())
    assert all(a["crowdnb_annotation"] for a in anns)
    assert [(a["crowdnb_worker"], a["language"], a["legibility"]) for a in anns] == [("ana", "ja", "legible"), ("ana", "ko", "legible"), ("ben", "na", "legible")]
    assert anns[0]["mask"] == [1.5, 2, 30.25, 2.5, 30, 12, 1, 11.75] and anns[0]["bbox"] == [1, 2, 29.25, 10]
    found = rows(done.path, "coco-text", config=project.config)
    assert [(r["id"], r["label"]) for r in found] == [("img0", ana), ("img0", ben), ("img1", []), ("img2", None)]
    assert found[0]["image"] == project.tasks()["payload"][0]["image"]


def test_aggregated_exports_carry_confidence(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "ocr", n=2, overlap=2, size=SIZE)
    region = [{"box": {"x": 2, "y": 3, "w": 20, "h": 8}, "text": "出口, EXIT"}]
    for worker in ("ana", "ben"):
        label(project, worker, {"img0": region})
    coco = project.export(tmp_path / "agg.json", "coco-text", aggregated=True)
    data = json.loads(coco.path.read_text(encoding="utf-8"))
    (img, unlabeled), (ann,) = data["imgs"].values(), data["anns"].values()
    assert img["crowdnb_confidence"] == pytest.approx(1) and unlabeled["crowdnb_confidence"] is None
    assert ann["crowdnb_confidence"] == pytest.approx(1) and ann["score"] == pytest.approx(1) and "crowdnb_worker" not in ann
    assert [r["label"] for r in rows(coco.path, "coco-text", config=project.config)] == [region, None]
    icdar = project.export(tmp_path / "agg", "icdar2015", aggregated=True)
    index = [json.loads(line) for line in (icdar.path / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(e["gt"], e["task"], e.get("confidence")) for e in index] == [("gt_img000.txt", "img0", pytest.approx(1)), (None, "img1", None)]
    assert official_regions((icdar.path / "gt_img000.txt").read_bytes()) == [([2, 3, 22, 3, 22, 11, 2, 11], "出口, EXIT")]


def test_icdar_copies_images_beside_their_gt_files_and_imports(store, tmp_path: Path) -> None:
    project = image_project(store, tmp_path / "img", "ocr", n=2, size=SIZE)
    regions_ = [{"box": {"x": 1, "y": 2, "w": 30, "h": 10}, "text": '"quoted", and, "commas"'}, {"box": {"x": 0, "y": 20, "w": 10.5, "h": 5.25}, "text": "漢字 한글 かな 😀"}]
    label(project, "ana", {"img0": regions_, "img1": [{"box": {"x": 3, "y": 3, "w": 4, "h": 4}, "text": "two\nlines"}]})
    done = project.export(tmp_path / "icdar", "icdar2015", media="copy")
    assert done.manifest == done.path / "manifest.json" and done.counts.skipped == ["img1: region 0's text has a line break, which an ICDAR line cannot hold; written as ###"]
    index = [json.loads(line) for line in (done.path / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    for entry in index:  # each gt file pairs with its copied image by name, as ICDAR's do
        assert (done.path / entry["image"]).is_file() and entry["gt"] == f"gt_{Path(entry['image']).stem}.txt"
    gt0 = (done.path / index[0]["gt"]).read_bytes()
    assert gt0.decode() == '1,2,31,2,31,12,1,12,"\\"quoted\\", and, \\"commas\\""\r\n0,20,10.5,20,10.5,25.25,0,25.25,漢字 한글 かな 😀\r\n'
    assert [text for _, text in official_regions(gt0)] == [r["text"] for r in regions_]
    assert official_regions((done.path / index[1]["gt"]).read_bytes()) == [([3, 3, 7, 3, 7, 7, 3, 7], "###")]
    copy = crowdnb.Project.create("copy", "ocr", store=store)
    assert copy.import_tasks(done.path, "icdar2015", as_="answer").added == 2
    tasks = copy.tasks()
    assert tasks["id"].tolist() == ["img0", "img1"] and tasks["known_answer"].tolist() == [regions_, []]


def _official_folder(folder: Path, lines: list[str]) -> Path:
    """An ICDAR 2015 training pair as the competition ships it: img_1.jpg and gt_img_1.txt
    (a BOM, CRLF lines)."""
    folder.mkdir()
    Image.new("RGB", (1280, 720)).save(folder / "img_1.jpg")
    (folder / "gt_img_1.txt").write_bytes("\ufeff".encode() + "".join(f"{line}\r\n" for line in lines).encode())
    return folder


def test_official_icdar_files_with_bom_and_do_not_care_import(sqlite_store, tmp_path: Path) -> None:
    lines = ["377,117,463,117,465,130,378,130,Genaxis Theatre", "493,115,519,115,519,131,493,131,[06]", "374,155,409,155,409,170,374,170,###", "1,1,9,1,9,9,1,9,a,b,\"c\""]
    folder = _official_folder(tmp_path / "ch4", lines)
    for line in lines:
        assert OFFICIAL_LINE.match(line)
    project = crowdnb.Project.create("icdar", "ocr", store=sqlite_store, shape="quad")
    assert project.import_tasks(folder, "icdar2015", as_="prediction").added == 1
    (task,) = project.tasks().to_dict("records")
    assert task["payload"]["image"] == str(folder / "img_1.jpg")
    assert [r["text"] for r in task["payload"]["prediction"]] == ["Genaxis Theatre", "[06]", 'a,b,"c"']
    assert task["payload"]["prediction"][0]["quad"] == [[377, 117], [463, 117], [465, 130], [378, 130]]
    boxes = crowdnb.Project.create("boxes", "ocr", store=sqlite_store)
    with pytest.raises(ValidationError) as caught:
        boxes.import_tasks(folder, "icdar2015")
    assert [(p.row, p.field) for p in caught.value.problems] == [("gt_img_1.txt:1", "label")]
    assert "not an axis-aligned rectangle" in caught.value.problems[0].message and len(boxes.tasks()) == 0


def test_malformed_lines_are_named_by_file_and_line(sqlite_store, tmp_path: Path) -> None:
    folder = _official_folder(tmp_path / "bad", ["1,2,3,4,5,6,7,text", "1,2,3,x,5,6,7,8,text", "", "1,2,3,2,3,4,1,4,fine", "1,2,3,2,3,4,1,4"])
    project = crowdnb.Project.create("bad", "ocr", store=sqlite_store, shape="quad")
    with pytest.raises(ValidationError) as caught:
        project.import_tasks(folder, "icdar2015")
    assert [(p.row, p.field) for p in caught.value.problems] == [("gt_img_1.txt:1", "label"), ("gt_img_1.txt:2", "label"), ("gt_img_1.txt:5", "label")]
    assert "y2: expected a number, got 'x'" in caught.value.problems[1].message
    assert len(project.tasks()) == 0
    (folder / "img_1.jpg").unlink()
    with pytest.raises(ValidationError, match="no image img_1.jpg"):
        list(formats.read(folder, "icdar2015", kind="ocr"))


def test_coco_text_files_from_elsewhere_read_by_bbox_or_mask(tmp_path: Path) -> None:
    data = {
        "cats": {}, "info": {},
        "imgs": {"7": {"id": 7, "file_name": "COCO_train2014_000000000007.jpg", "width": 640, "height": 480, "set": "train"}, "8": {"id": 8, "file_name": "x.jpg", "width": 64, "height": 48, "set": "val"}},
        "anns": {
            "1": {"id": 1, "image_id": 7, "bbox": [10, 20, 30, 5], "mask": [10, 20, 40, 21, 40, 25, 10, 25], "utf8_string": "STOP", "legibility": "legible", "language": "english", "class": "machine printed", "area": 150},
            "2": {"id": 2, "image_id": 7, "bbox": [1, 1, 5, 5], "mask": [1, 1, 6, 1, 6, 6, 1, 6], "utf8_string": "", "legibility": "illegible", "language": "na", "class": "others", "area": 25},
        },
        "imgToAnns": {"7": [1, 2], "8": []},
    }
    path = tmp_path / "cocotext.v2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    box = rows(path, "coco-text", media_root=str(tmp_path / "train2014"))
    assert [(r["id"], r["label"], r["source"]) for r in box] == [(None, [{"box": {"x": 10, "y": 20, "w": 30, "h": 5}, "text": "STOP"}], "cocotext.v2.json:imgs[7]"), (None, [], "cocotext.v2.json:imgs[8]")]
    assert box[0]["image"] == str(tmp_path / "train2014" / "COCO_train2014_000000000007.jpg")
    quad = rows(path, "coco-text", config=OCR.make_config(shape="quad"))
    assert quad[0]["label"] == [{"quad": [[10, 20], [40, 21], [40, 25], [10, 25]], "text": "STOP"}]
    data["anns"]["1"]["bbox"] = [10, "twenty", 30, 5]
    data["imgToAnns"]["8"] = [9]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        rows(path, "coco-text")
    assert [(p.row, p.field) for p in caught.value.problems] == [("cocotext.v2.json:anns[1]", "label"), ("cocotext.v2.json:imgs[8]", "imgToAnns")]


def test_counter_clockwise_quads_are_written_clockwise_from_their_first_corner(tmp_path: Path) -> None:
    quad = [[10, 10], [10, 30], [50, 30], [50, 10]]  # top-left, bottom-left, bottom-right, top-right
    item = Item("t0", {"image": "/data/a.png", "width": WIDTH, "height": HEIGHT}, {}, [Answer([{"quad": quad, "text": "ccw"}], worker="ana")])
    out = tmp_path / "out"
    out.mkdir()
    FORMATS["icdar2015"].write(iter([item]), out, Context("p", OCR, OCR.make_config(shape="quad"), Options()))
    assert official_regions((out / "gt_a.txt").read_bytes()) == [([10, 10, 50, 10, 50, 30, 10, 30], "ccw")]


@pytest.mark.parametrize("fmt", ["coco-text", "icdar2015"])
def test_writers_hold_one_task_at_a_time_and_write_empty_exports(tmp_path: Path, fmt: str) -> None:
    config = OCR.make_config(shape="quad")
    regions_ = [{"quad": [[1.25 * j, 2], [1.25 * j + 9, 2], [1.25 * j + 9, 9.5], [1.25 * j, 9.5]], "text": f"看板 {j}"} for j in range(10)]

    def items(n: int) -> Any:
        return (Item(f"t{i}", {"image": f"/data/{i}.jpg", "width": WIDTH, "height": HEIGHT}, {}, [Answer(regions_, confidence=0.9, agreement=[0.8] * 10)]) for i in range(n))

    context, chosen = Context("p", OCR, config, Options(aggregated=True)), FORMATS[fmt]
    if chosen.folder:
        for name in ("big", "empty"):
            (tmp_path / name).mkdir()
    counts, peak = traced_peak(lambda: chosen.write(items(1_000), tmp_path / "big", context))
    assert counts.objects == 10_000 and peak < 2**21  # the 10,000 regions as objects would take ~6 MB
    assert sum(len(piece) for piece in formats.read(tmp_path / "big", fmt, kind="ocr", config=config)) == 1_000
    assert chosen.write(items(0), tmp_path / "empty", context).tasks == 0
    assert list(formats.read(tmp_path / "empty", fmt, kind="ocr", config=config)) == []
    if fmt == "coco-text":
        assert json.loads((tmp_path / "empty").read_text())["imgs"] == {}


def _coco_text_file(tmp_path: Path, anns: dict[str, Any], img_to_anns: dict[str, list[int]] | None, workers: list[str]) -> Path:
    data: dict[str, Any] = {"cats": {}, "info": {}, "imgs": {"1": {"id": 1, "file_name": "a.jpg", "set": "train", "crowdnb_task": "t1", "crowdnb_workers": workers}}, "anns": anns}
    if img_to_anns is not None:
        data["imgToAnns"] = img_to_anns
    path = tmp_path / "text.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _ann(ann_id: int, image_id: Any, text: str, worker: str | None) -> dict[str, Any]:
    ann = {"id": ann_id, "image_id": image_id, "bbox": [1, 2, 3, 4], "utf8_string": text, "legibility": "legible"}
    return {**ann, "crowdnb_worker": worker} if worker is not None else ann


def test_coco_text_reads_workers_found_on_annotations_but_not_listed(tmp_path: Path) -> None:
    anns = {"1": _ann(1, 1, "ana's", "ana"), "2": _ann(2, 1, "cy's", "cy"), "3": _ann(3, 1, "", "dee")}  # dee: only a blank text
    for img_to_anns in ({"1": [1, 2, 3]}, None):
        path = _coco_text_file(tmp_path, anns, img_to_anns, ["ben", "ana"])
        found = [(r["id"], r["label"]) for r in rows(path, "coco-text")]
        box = {"x": 1, "y": 2, "w": 3, "h": 4}
        assert found == [("t1", []), ("t1", [{"box": box, "text": "ana's"}]), ("t1", [{"box": box, "text": "cy's"}]), ("t1", [])]


def test_coco_text_annotations_of_no_image_are_problems(tmp_path: Path) -> None:
    anns = {"1": _ann(1, 1, "here", "ana"), "2": _ann(2, 99, "lost", "ana"), "3": _ann(3, None, "lost too", "ana")}
    path = _coco_text_file(tmp_path, anns, None, ["ana"])
    with pytest.raises(ValidationError) as caught:
        rows(path, "coco-text")
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        ("text.json:anns[2]", "image_id", "no image 99 in imgs"),
        ("text.json:anns[3]", "image_id", "no image None in imgs"),
    ]
    path = _coco_text_file(tmp_path, anns, {"1": [1], "99": [2, 3]}, ["ana"])
    with pytest.raises(ValidationError) as caught:
        rows(path, "coco-text")
    assert [(p.row, p.field) for p in caught.value.problems] == [
        ("text.json:imgToAnns[99]", "imgToAnns"), ("text.json:anns[2]", "image_id"), ("text.json:anns[3]", "image_id"),
    ]


def test_icdar_gt_names_outside_the_folder_are_refused(tmp_path: Path) -> None:
    folder = _official_folder(tmp_path / "ch4", ["1,1,9,1,9,9,1,9,fine"])
    (tmp_path / "evil.txt").write_text("1,1,9,1,9,9,1,9,secret")
    index = [{"gt": "gt_img_1.txt", "image": "img_1.jpg"}, {"gt": "../evil.txt", "image": "img_1.jpg"}, {"gt": "..", "image": "img_1.jpg"}, {"gt": str(tmp_path / "evil.txt"), "image": "img_1.jpg"}]
    (folder / "index.jsonl").write_text("".join(json.dumps(e) + "\n" for e in index))
    with pytest.raises(ValidationError) as caught:
        rows(folder, "icdar2015")
    assert [(p.row, p.field) for p in caught.value.problems] == [("index.jsonl:2", "label"), ("index.jsonl:3", "label"), ("index.jsonl:4", "label")]


def test_official_icdar_images_are_found_by_any_suffix_in_any_case(tmp_path: Path) -> None:
    folder = tmp_path / "ch4"
    (folder / "images").mkdir(parents=True)
    for stem, name in (("img_1", "images/img_1.JPG"), ("img_2", "img_2.Png"), ("img_3", "images/img_3.gif"), ("img_4", "images/img_4.TIFF")):
        Image.new("RGB", (8, 8)).save(folder / name, format={"JPG": "JPEG", "TIFF": "TIFF"}.get(name.rsplit(".", 1)[1], name.rsplit(".", 1)[1].upper()))
        (folder / f"gt_{stem}.txt").write_text("1,1,7,1,7,7,1,7,x\n")
    (folder / "img_2.txt").write_text("not an image")
    assert [Path(r["image"]).relative_to(folder).as_posix() for r in rows(folder, "icdar2015")] == ["images/img_1.JPG", "img_2.Png", "images/img_3.gif", "images/img_4.TIFF"]


def test_icdar_names_are_unique_without_looking_at_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    label_of = [Answer([{"box": {"x": 1, "y": 1, "w": 2, "h": 2}, "text": "t"}], worker="ana")]
    items = [
        Item("t0", {"image": "/data/x/a b.png"}, {}, label_of),
        Item("t1", {"image": "/data/y/a b.png"}, {}, label_of),  # another image of that name
        Item("t2", {"image": "/data/z/a_b.png"}, {}, label_of),  # the same name once made safe
        Item("t3", {"image": "/data/x/a b.png"}, {}, label_of * 2),  # the first image again, two workers
    ]
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(Path, "exists", lambda self: pytest.fail(f"exists() called on {self}"))
    FORMATS["icdar2015"].write(iter(items), out, Context("p", OCR, OCR.make_config(), Options()))
    monkeypatch.undo()
    names = [json.loads(line)["gt"] for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(set(names)) == 5 and sorted(p.name for p in out.glob("gt_*.txt")) == sorted(names)
    assert names[0] == "gt_a_b.txt" and names[3:] == ["gt_a_b_1.txt", "gt_a_b_2.txt"]
    assert re.fullmatch(r"gt_[0-9a-f]{8}_a_b\.txt", names[1]) and re.fullmatch(r"gt_[0-9a-f]{8}_a_b\.txt", names[2]) and names[1] != names[2]
