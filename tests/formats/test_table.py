"""CSV, JSON lines and Parquet tables: every kind's labels out and back in."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import image_project, label, text_project

import crowdnb
from crowdnb import formats
from crowdnb.errors import ValidationError

BOX = [{"label": "cat", "x": 1.5, "y": 2.0, "w": 10.0, "h": 5.25}]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_raw_boxes_round_trip_with_workers_and_manifest(store, tmp_path: Path, fmt: str) -> None:
    project = image_project(store, tmp_path / "img", "bbox", overlap=2, classes=["cat", "dog"])
    label(project, "ana", {"img0": BOX, "img1": []})
    label(project, "ben", {"img0": BOX})
    done = project.export(tmp_path / f"out.{fmt}", fmt)
    assert (done.counts.tasks, done.counts.labels) == (3, 3)
    manifest = json.loads(done.manifest.read_text())
    assert manifest["project"] == project.name and manifest["counts"]["labels"] == 3 and manifest["options"]["aggregated"] is False
    rows = [row for piece in formats.read(done.path, fmt, kind="bbox", config=project.config) for row in piece.to_dict("records")]
    assert [(r["id"], r["label"]) for r in rows] == [("img0", BOX), ("img0", BOX), ("img1", [])]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_aggregated_classes_import_as_known_answers(sqlite_store, tmp_path: Path, fmt: str) -> None:
    texts = ["서울 맛집 추천", "東京の天気 ☀️", "plain"]
    project = text_project(sqlite_store, texts, "text-class", classes=["food", "weather"])
    label(project, "ana", {"t0": "food", "t1": "weather"})
    done = project.export(tmp_path / f"agg.{fmt}", fmt, aggregated=True)
    assert done.counts.labels == 2
    copy = crowdnb.Project.create(f"copy-{fmt}", "text-class", store=sqlite_store, classes=["food", "weather"])
    assert copy.import_tasks(done.path, fmt, as_="answer", dry_run=True).added == 0 and len(copy.tasks()) == 0
    assert copy.import_tasks(done.path, fmt, as_="answer").added == 2
    tasks = copy.tasks()
    assert dict(zip(tasks["id"], tasks["known_answer"], strict=True)) == {"t0": "food", "t1": "weather"}
    assert tasks["payload"].map(lambda p: p["text"]).tolist() == texts[:2]
    with pytest.raises(ValidationError, match="'t0' is already a task"):
        copy.import_tasks(done.path, fmt, as_="answer")


def test_import_names_every_bad_row_and_stores_nothing(sqlite_store, tmp_path: Path) -> None:
    project = text_project(sqlite_store, ["a"], "text-class", classes=["food", "weather"])
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok", "label": "food"}\n{"text": "bad", "label": "sports"}\n\n{"text": "", "label": "food"}\n', encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        project.import_tasks(path, "jsonl", as_="answer")
    assert {(p.row, p.field) for p in caught.value.problems} == {("in.jsonl:2", "answer"), ("in.jsonl:4", "text")}
    assert len(project.tasks()) == 1


def test_lines_and_cells_that_are_not_json_are_named(sqlite_store, tmp_path: Path) -> None:
    project = crowdnb.Project.create("boxes", "bbox", store=sqlite_store, classes=["cat"])
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"image": "a.png", "label": []}\n{not json\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        project.import_tasks(lines, "jsonl", dry_run=True)
    assert [(p.row, p.field) for p in caught.value.problems][:2] == [("in.jsonl:2", ""), ("in.jsonl:3", "")]
    cells = tmp_path / "in.csv"
    cells.write_text('image,label\na.png,"[{""label"": ""cat"""\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row 'in.csv:2', field 'label': not JSON"):
        project.import_tasks(cells, "csv", dry_run=True)


def test_csv_cells_are_read_as_the_text_they_hold(sqlite_store, tmp_path: Path) -> None:
    project = crowdnb.Project.create("texts", "text-class", store=sqlite_store, classes=["a"])
    path = tmp_path / "in.csv"
    path.write_text("task,text,label\n007,1,a\n8,true,\n9,nan,a\n", encoding="utf-8")
    rows = [r for piece in formats.read(path, "csv", kind="text-class", config=project.config) for r in piece.to_dict("records")]
    assert [(r["id"], r["text"], None if pd.isna(r["label"]) else r["label"]) for r in rows] == [
        ("007", "1", "a"), ("8", "true", None), ("9", "nan", "a"),
    ]


def test_a_raw_export_of_several_workers_imports_as_tasks_or_says_how_to_import_labels(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", overlap=2, classes=["cat", "dog"])
    label(project, "ana", {"img0": BOX})
    label(project, "ben", {"img0": []})
    done = project.export(tmp_path / "raw.jsonl", "jsonl")
    copy = crowdnb.Project.create("copy", "bbox", store=sqlite_store, classes=["cat", "dog"])
    with pytest.raises(ValidationError, match="id 'img0' repeats 'raw.jsonl:1'; a raw export has a row per worker's label"):
        copy.import_tasks(done.path, "jsonl", as_="answer")
    assert copy.import_tasks(done.path, "jsonl", as_="tasks").added == 1
    assert copy.tasks()["id"].tolist() == ["img0"]
    one = project.export(tmp_path / "ana.jsonl", "jsonl", workers=["ana"])
    other = crowdnb.Project.create("other", "bbox", store=sqlite_store, classes=["cat", "dog"])
    assert other.import_tasks(one.path, "jsonl", as_="answer").added == 1 and other.tasks()["known_answer"].tolist() == [BOX]


def test_one_file_formats_take_no_copied_media(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=["cat"])
    with pytest.raises(ValueError, match="format 'csv' is one file, which cannot hold the images: media='copy' is for the folder formats"):
        project.export(tmp_path / "a.csv", "csv", media="copy")
    assert not (tmp_path / "images").exists()


def test_exports_are_readable_as_the_umask_says(sqlite_store, tmp_path: Path) -> None:
    import os

    project = text_project(sqlite_store, ["a"], "text-class", classes=["x"])
    old = os.umask(0o022)
    try:
        file = project.export(tmp_path / "a.csv", "csv").path
        folder = project.export(tmp_path / "hf", "hf-dataset").path
    finally:
        os.umask(old)
    assert (file.stat().st_mode & 0o777, folder.stat().st_mode & 0o777) == (0o644, 0o755)
