"""`export(validate=True)`: each written file loaded by its format's own reference reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import image_project, label, text_project

from crowdnb import formats
from crowdnb.formats import coco

BOX = [{"label": "cat", "x": 1.0, "y": 2.0, "w": 10.0, "h": 5.0}]


def test_coco_hf_exports_validate(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=["cat", "dog"])
    label(project, "ana", {"img0": BOX, "img1": BOX * 2})
    done = project.export(tmp_path / "c.json", "coco", validate=True)
    assert (done.counts.tasks, done.counts.objects) == (3, 3)
    assert project.export(tmp_path / "hf", "hf-dataset", validate=True).counts.labels == 2


def test_text_exports_validate(sqlite_store, tmp_path: Path) -> None:
    spans = text_project(sqlite_store, ["서울 is big", "東京 🗼 tower"], "spans", classes=["CITY"])
    label(spans, "ana", {"t0": [{"start": 0, "end": 2, "label": "CITY"}], "t1": []})
    assert spans.export(tmp_path / "s.spacy", "docbin", validate=True).counts.labels == 2
    qa = text_project(sqlite_store, ["Opening hours of the shop"], "qa")
    label(qa, "ana", {"t0": {"turns": [{"question": "몇 시에 열어요?", "answer": "9시에 열어요."}]}})
    assert qa.export(tmp_path / "q.jsonl", "chat-jsonl", validate=True).counts.labels == 1


def test_a_file_the_reference_reader_disagrees_with_is_not_kept(sqlite_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=["cat", "dog"])
    label(project, "ana", {"img0": BOX})
    target = tmp_path / "c.json"
    target.write_text("{}", encoding="utf-8")
    written = coco._write

    def lossy(items, out, context):  # a writer that drops the annotations it counts
        counts = written(items, out, context)
        document = json.loads(out.read_text(encoding="utf-8"))
        out.write_text(json.dumps({**document, "annotations": []}), encoding="utf-8")
        return counts

    monkeypatch.setattr(coco, "FORMAT", coco.FORMAT.__class__(**{**coco.FORMAT.__dict__, "write": lossy}))
    with pytest.raises(ValueError, match="pycocotools read 3 images and 0 annotations from .*but 3 and 1 were written"):
        project.export(target, "coco", validate=True)
    assert target.read_text(encoding="utf-8") == "{}"  # the old file stays


def test_formats_without_a_reference_reader_say_so(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, ["a"], "text-class", classes=["x"])
    with pytest.raises(ValueError, match="format 'csv' has no reference reader"):
        project.export(tmp_path / "a.csv", "csv", validate=True)
    assert not (tmp_path / "a.csv").exists()
    assert {"coco", "docbin", "hf-dataset", "chat-jsonl"} <= {n for n in formats.FORMATS if formats.get(n).validate}
