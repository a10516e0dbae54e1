"""Hugging Face datasets: exports that `datasets` loads with the project's classes and images,
round trips back into projects, tasks from datasets made in memory, and the missing extra."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import image_project, label, text_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import crowdnb
from crowdnb import formats
from crowdnb.formats.hf import tasks_from_dataset

CLASSES = ["긍정", "ネガティブ", "neutral 🙂"]
TEXTS = st.text(alphabet=st.sampled_from(list("서울맛집東京の天気ひらがなカタカナ😀🎉☀️ ab")), min_size=1, max_size=12).filter(str.strip)
BOX = [{"label": "dog", "x": 1.5, "y": 2.0, "w": 10.0, "h": 5.25}, {"label": "cat", "x": 0.0, "y": 0.0, "w": 3.0, "h": 4.0}]
SETTINGS = settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No network, and Hugging Face's own caches in a temporary folder."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))


def test_copied_images_load_as_image_and_class_label_features(store, tmp_path: Path) -> None:
    import datasets

    project = image_project(store, tmp_path / "img", "image-class", size=(40, 30), classes=CLASSES)
    label(project, "ana", {"img0": "ネガティブ", "img2": "긍정"})
    done = project.export(tmp_path / "out" / "ds", "hf-dataset", media="copy")
    assert (done.counts.tasks, done.counts.labels) == (3, 2) and done.manifest == done.path / "manifest.json"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ds"]  # no cache left beside it
    loaded = datasets.load_from_disk(str(done.path))
    assert loaded.features["label"] == datasets.ClassLabel(names=CLASSES)
    assert loaded.features["image"] == datasets.Image()
    assert loaded["id"] == ["img0", "img2"] and loaded.features["label"].int2str(loaded["label"]) == ["ネガティブ", "긍정"]
    assert loaded["worker"] == ["ana", "ana"] and loaded["status"] == ["approved", "approved"]
    images = [row["image"] for row in loaded]
    assert all(isinstance(image, Image.Image) and image.size == (40, 30) for image in images)


def test_image_paths_are_strings_that_decode_when_cast(sqlite_store, tmp_path: Path) -> None:
    import datasets

    project = image_project(sqlite_store, tmp_path / "img", "image-multilabel", classes=CLASSES)
    label(project, "ana", {"img1": ["neutral 🙂", "긍정"]})
    done = project.export(tmp_path / "ds", "hf-dataset")
    loaded = datasets.load_from_disk(str(done.path))
    assert loaded.features["label"] == datasets.List(datasets.ClassLabel(names=CLASSES))
    assert loaded.features["image"] == datasets.Value("string")
    assert loaded[0]["image"] == str(tmp_path / "img" / "img001.jpeg") and loaded[0]["label"] == [0, 2]
    assert loaded.cast_column("image", datasets.Image())[0]["image"].size == (64, 48)
    relative = project.export(tmp_path / "rel", "hf-dataset", media_root=str(tmp_path))
    assert datasets.load_from_disk(str(relative.path))["image"] == ["img/img001.jpeg"]
    read = next(formats.read(relative.path, "hf-dataset", kind="image-multilabel", config=project.config, media_root=str(tmp_path)))
    assert read["image"].tolist() == [str(tmp_path / "img" / "img001.jpeg")] and read["label"].tolist() == [["긍정", "neutral 🙂"]]


@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), data=st.data())
def test_classes_round_trip(sqlite_store, tmp_path: Path, texts: list[str], data: st.DataObject) -> None:
    chosen = {f"t{i}": data.draw(st.sampled_from(CLASSES)) for i in range(len(texts)) if data.draw(st.booleans())}
    project = text_project(sqlite_store, texts, "text-class", classes=CLASSES)
    label(project, "ana", chosen)
    assert _round_trip(project, tmp_path) == ({task: texts[int(task[1:])] for task in chosen}, chosen)


@SETTINGS
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), data=st.data())
def test_multilabel_round_trip(sqlite_store, tmp_path: Path, texts: list[str], data: st.DataObject) -> None:
    chosen = {f"t{i}": [c for c in CLASSES if data.draw(st.booleans())] for i in range(len(texts))}
    project = text_project(sqlite_store, texts, "text-multilabel", classes=CLASSES, allow_empty=True)
    label(project, "ana", chosen)
    assert _round_trip(project, tmp_path) == (dict(zip(chosen, texts, strict=True)), chosen)


def _round_trip(project: crowdnb.Project, tmp_path: Path) -> tuple[dict[str, str], dict[str, object]]:
    """Export `project`, import the dataset into a new project as known answers: its texts and
    answers by task id."""
    done = project.export(tmp_path / f"{project.name}.hf", "hf-dataset")
    copy = crowdnb.Project.create(f"copy-{project.name}", project.kind.name, store=project.store, **project.kind.options_of(project.config))
    assert copy.import_tasks(done.path, "hf-dataset", as_="answer", dry_run=True).added == 0
    copy.import_tasks(done.path, "hf-dataset", as_="answer")
    tasks = copy.tasks()
    texts = dict(zip(tasks["id"], tasks["payload"].map(lambda p: p["text"]), strict=True))
    return texts, dict(zip(tasks["id"], tasks["known_answer"], strict=True))


def test_boxes_are_objects_and_come_back(sqlite_store, tmp_path: Path) -> None:
    import datasets

    project = image_project(sqlite_store, tmp_path / "img", "bbox", classes=["cat", "dog"])
    label(project, "ana", {"img0": BOX, "img1": []})
    done = project.export(tmp_path / "boxes", "hf-dataset")
    assert done.counts.objects == 2
    loaded = datasets.load_from_disk(str(done.path))
    assert loaded.features["objects"]["category"] == datasets.List(datasets.ClassLabel(names=["cat", "dog"]))
    assert loaded[0]["objects"] == {"bbox": [[1.5, 2.0, 10.0, 5.25], [0.0, 0.0, 3.0, 4.0]], "category": [1, 0]}
    read = [row for piece in formats.read(done.path, "hf-dataset", kind="bbox", config=project.config) for row in piece.to_dict("records")]
    assert [(row["id"], row["label"]) for row in read] == [("img0", BOX), ("img1", [])]


def test_embedded_captions_come_back_as_image_files(sqlite_store, tmp_path: Path) -> None:
    project = image_project(sqlite_store, tmp_path / "img", "caption")
    project.add_tasks(pd.DataFrame({"image": ["https://example.com/a.jpg"], "id": ["url"]}))
    label(project, "ana", {"img0": "두 마리 고양이 🐱", "img2": "空", "url": "remote"})
    done = project.export(tmp_path / "caps", "hf-dataset", media="copy", aggregated=True)
    assert done.counts.labels == 2 and done.counts.skipped == ["task 'url': an image URL cannot be embedded; export with media='path'"]
    copy = crowdnb.Project.create("caps-copy", "caption", store=sqlite_store)
    assert copy.import_tasks(done.path, "hf-dataset").added == 2
    tasks = copy.tasks()
    assert dict(zip(tasks["id"], tasks["payload"].map(lambda p: p["prediction"]), strict=True)) == {"img0": "두 마리 고양이 🐱", "img2": "空"}
    for payload, original in zip(tasks["payload"], ["img000.jpeg", "img002.jpeg"], strict=True):
        assert Path(payload["image"]).parent == done.path / "images" and (payload["width"], payload["height"]) == (64, 48)
        assert Path(payload["image"]).read_bytes() == (tmp_path / "img" / original).read_bytes()


def test_tasks_from_a_dataset_in_memory(sqlite_store, tmp_path: Path) -> None:
    import datasets

    features = datasets.Features({"sentence": datasets.Value("string"), "idx": datasets.Value("int32"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    dataset = datasets.Dataset.from_dict({"sentence": ["좋아요", "最悪 😞", "unlabeled"], "idx": [7, 8, 9], "label": [1, 0, -1]}, features=features)
    found = tasks_from_dataset(dataset, text="sentence", label="label", id="idx")
    assert found.to_dict("list") == {"text": ["좋아요", "最悪 😞", "unlabeled"], "id": ["7", "8", "9"], "prediction": ["pos", "neg", None]}
    project = crowdnb.Project.create("from-hf", "text-class", store=sqlite_store, classes=["neg", "pos"])
    assert project.add_tasks(tasks_from_dataset(dataset, text="sentence")) == 3
    assert tasks_from_dataset(dataset, text="sentence", label="label", as_="answer").columns.tolist() == ["text", "answer"]
    with pytest.raises(ValueError, match="exactly one media column"):
        tasks_from_dataset(dataset)
    with pytest.raises(ValueError, match=r"no column \['text'\]"):
        tasks_from_dataset(dataset, text="text")


def test_embedded_images_from_a_dataset_are_written_once(tmp_path: Path) -> None:
    import datasets

    out = io.BytesIO()
    Image.new("RGB", (5, 7)).save(out, format="PNG")
    dataset = datasets.Dataset.from_dict({"img": [{"bytes": out.getvalue(), "path": None}] * 2}, features=datasets.Features({"img": datasets.Image()}))
    with pytest.raises(ValueError, match="pass images="):
        tasks_from_dataset(dataset, image="img")
    found = tasks_from_dataset(dataset, image="img", images=tmp_path / "media")
    assert found["image"].nunique() == 1 and len(list((tmp_path / "media").iterdir())) == 1
    with Image.open(found["image"][0]) as image:
        assert image.size == (5, 7)
    on_disk = datasets.Dataset.from_dict({"img": found["image"].tolist()[:1]}, features=datasets.Features({"img": datasets.Image()}))
    assert tasks_from_dataset(on_disk, image="img")["image"].tolist() == found["image"].tolist()[:1]  # a file is referred to, not copied


def test_every_split_of_a_saved_dataset_dict_is_read(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b"])})
    splits = {name: datasets.Dataset.from_dict({"text": [f"{name} {i}" for i in range(2)], "label": [0, 1]}, features=features) for name in ("train", "test")}
    datasets.DatasetDict(splits).save_to_disk(str(tmp_path / "dd"))
    pieces = list(formats.read(tmp_path / "dd", "hf-dataset", kind="text-class"))
    rows = [(source, row["text"], row["label"]) for piece in pieces for source, row in piece.iterrows()]
    assert rows == [("dd/train:row 0", "train 0", "a"), ("dd/train:row 1", "train 1", "b"), ("dd/test:row 0", "test 0", "a"), ("dd/test:row 1", "test 1", "b")]


def test_without_datasets_the_extra_is_named(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['datasets'] = None\n"
        "from crowdnb import formats\n"
        "from crowdnb.errors import MissingExtra\n"
        "try:\n"
        f"    list(formats.read({str(tmp_path)!r}, 'hf-dataset', kind='text-class'))\n"
        "except MissingExtra as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(crowdnb.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert 'pip install "crowdnb[hf]"' in done.stdout and "hf-dataset" in done.stdout

