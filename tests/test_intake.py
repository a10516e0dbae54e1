"""Tasks in: bad frames raise errors naming rows and fields, and store nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from samples import write_images

import crowdnb
from crowdnb import ValidationError


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return write_images(tmp_path / "img", 3)


@pytest.fixture
def project(store: crowdnb.Store) -> crowdnb.Project:
    return crowdnb.Project.create("animals", kind="image-class", classes=["cat", "dog"], store=store)


def _rejects(project: crowdnb.Project, frame: pd.DataFrame, *fragments: str) -> None:
    before = project.store.count_tasks(project.info.id)
    with pytest.raises(ValidationError) as caught:
        project.add_tasks(frame)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert project.store.count_tasks(project.info.id) == before


def test_good_frame_keeps_metadata_answers_and_priorities(project: crowdnb.Project, images: list[Path]) -> None:
    frame = pd.DataFrame(
        {
            "image": [str(p) for p in images],
            "id": ["a", "b", "c"],
            "answer": ["cat", None, "dog"],
            "priority": [0, 2, 1],
            "camera": ["x", np.nan, "z"],
            "shot": pd.to_datetime(["2026-01-01", "2026-01-02", None]),
            "n": np.array([1, 2, 3], dtype=np.int64),
        }
    )
    assert project.add_tasks(frame) == 3
    stored = project.tasks().set_index("id")
    assert stored.loc["a", "meta"] == {"camera": "x", "shot": "2026-01-01T00:00:00", "n": 1}
    assert stored.loc["b", "meta"]["camera"] is None
    assert stored["known_answer"].tolist() == ["cat", None, "dog"]
    assert stored.loc["c", "payload"]["width"] == 64


def test_missing_column_is_named(project: crowdnb.Project) -> None:
    _rejects(project, pd.DataFrame({"path": ["x.jpg"]}), "'image'", "missing column", "path")


def test_unreadable_images_are_named_by_row(project: crowdnb.Project, images: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    frame = pd.DataFrame({"image": [str(images[0]), str(broken), str(tmp_path / "gone.png")]}, index=[10, 11, 12])
    _rejects(project, frame, "row 11, field 'image'", "broken.jpg", "row 12, field 'image'", "gone.png")


def test_duplicate_ids_in_frame_and_store_are_named(project: crowdnb.Project, images: list[Path]) -> None:
    project.add_tasks(pd.DataFrame({"image": [str(images[0])], "id": ["a"]}))
    _rejects(project, pd.DataFrame({"image": [str(p) for p in images[1:]], "id": ["b", "b"]}), "row 1, field 'id'", "duplicate id 'b'")
    _rejects(project, pd.DataFrame({"image": [str(images[1])], "id": ["a"]}), "'a'", "already in the project")
    assert project.add_tasks(pd.DataFrame({"image": [str(images[1])], "id": ["a"]}), on_duplicate="skip") == 0


def test_wrong_types_are_named(project: crowdnb.Project, images: list[Path]) -> None:
    frame = pd.DataFrame(
        {
            "image": [str(images[0]), 42, str(images[2])],
            "id": ["a", 1.5, "c"],
            "answer": ["cat", "dog", "bird"],
            "priority": [1, "high", 0],
            "blob": [object(), 1, 2],
        }
    )
    _rejects(
        project,
        frame,
        "row 1, field 'image'",
        "row 1, field 'id'",
        "row 2, field 'answer'",
        "'bird'",
        "row 1, field 'priority'",
        "row 0, field 'blob'",
    )


def test_text_tasks_without_ids_get_stable_content_ids(store: crowdnb.Store) -> None:
    project = crowdnb.Project.create("texts", kind="text-class", classes=["pos", "neg"], store=store)
    frame = pd.DataFrame({"text": ["good", "bad"]})
    assert project.add_tasks(frame) == 2
    assert project.add_tasks(frame, on_duplicate="skip") == 0
    _rejects(project, pd.DataFrame({"text": ["same", "same", None]}), "same content", "row 2, field 'text'")


def test_free_text_tasks_take_no_known_answer(store: crowdnb.Store) -> None:
    project = crowdnb.Project.create("summaries", kind="free-text", store=store)
    frame = pd.DataFrame({"text": ["a long text", "another"], "answer": [None, "a summary"]})
    _rejects(project, frame, "row 1, field 'answer'", "cannot be checked against a known answer")
    assert project.add_tasks(frame.drop(columns="answer")) == 2


def test_not_a_frame_is_a_type_error(project: crowdnb.Project) -> None:
    with pytest.raises(TypeError, match="DataFrame"):
        project.add_tasks([{"image": "x"}])  # type: ignore[arg-type]


def test_invalid_rows_are_not_called_duplicates(project: crowdnb.Project, images: list[Path], tmp_path: Path) -> None:
    frame = pd.DataFrame({"image": [str(tmp_path / "gone-1.png"), str(tmp_path / "gone-2.png"), str(images[0])]})
    with pytest.raises(ValidationError) as caught:
        project.add_tasks(frame)
    assert "row 0, field 'image'" in str(caught.value) and "row 1, field 'image'" in str(caught.value)
    assert "same content" not in str(caught.value)
    assert len(caught.value.problems) == 2


def test_invalid_text_is_not_called_a_duplicate_but_real_duplicates_are(store: crowdnb.Store) -> None:
    project = crowdnb.Project.create("texts", kind="text-class", classes=["pos", "neg"], store=store)
    frame = pd.DataFrame({"text": [np.nan, None, "a", "a"]}, dtype=object)
    with pytest.raises(ValidationError) as caught:
        project.add_tasks(frame)
    rows = sorted((p.row, p.field) for p in caught.value.problems)
    assert rows == [(0, "text"), (1, "text"), (3, "content")]
    assert project.store.count_tasks(project.info.id) == 0


def test_invalid_ids_are_not_called_duplicates(project: crowdnb.Project, images: list[Path]) -> None:
    frame = pd.DataFrame({"image": [str(p) for p in images[:2]], "id": [1.5, 1.5]})
    with pytest.raises(ValidationError) as caught:
        project.add_tasks(frame)
    assert "duplicate" not in str(caught.value)
    assert sorted(p.row for p in caught.value.problems) == [0, 1]


@pytest.mark.parametrize("empty", ["", "   ", "\n\t"])
def test_empty_text_is_refused_naming_row_and_field(store: crowdnb.Store, empty: str) -> None:
    project = crowdnb.Project.create("texts", kind="spans", classes=["PER"], store=store)
    _rejects(project, pd.DataFrame({"text": ["fine", empty]}, index=["r1", "r2"]), "row 'r2', field 'text'", "empty text")
