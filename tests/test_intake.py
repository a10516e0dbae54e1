"""Tasks in: bad frames raise errors naming rows and fields, and store nothing; good ones are
written as the store keeps them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from samples import write_images

import crowdnb
from crowdnb import ValidationError, kinds
from crowdnb.intake import CHUNK, MAX_ID_LENGTH, tasks_from_frame


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


TEXT_CLASS = (kinds.get("text-class"), {"classes": ["pos", "neg"]})


def _rows(frame: pd.DataFrame, kind: tuple[kinds.Kind, dict[str, Any]] = TEXT_CLASS) -> list[tuple[Any, ...]]:
    table = tasks_from_frame(frame, *kind)
    return [row for start in range(0, len(table), CHUNK) for row in table.json(start, min(start + CHUNK, len(table)))]


def test_rows_are_written_as_compact_json_with_unicode_as_is() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["日本語 \"q\"\n", "x"], "answer": [None, "neg"], "priority": [1, 0.5]})
    assert _rows(frame) == [("a", '{"text":"日本語 \\"q\\"\\n"}', "{}", None, 1.0), ("b", '{"text":"x"}', "{}", '"neg"', 0.5)]


def test_text_content_ids_are_the_hash_of_the_sorted_json_as_ever() -> None:
    texts = ["good", "日本語", 'a "quote"\n', "emoji 😀"]
    expected = [hashlib.sha1(json.dumps({"text": t}, sort_keys=True).encode()).hexdigest()[:16] for t in texts]
    assert [row[0] for row in _rows(pd.DataFrame({"text": texts}))] == expected


def test_metadata_of_each_dtype_is_written_as_json_values() -> None:
    frame = pd.DataFrame({
        "text": ["a", "b"],
        "name": pd.Series(["x", None], dtype="str"),
        "count": pd.Series([1, None], dtype="Int64"),
        "score": [float("inf"), 0.25],
        "flag": [True, False],
        "at": pd.to_datetime(["2026-01-01", None]),
        "tags": [["t", 1], {"k": None}],
    })
    metas = [json.loads(row[2]) for row in _rows(frame)]
    assert metas == [
        {"name": "x", "count": 1, "score": None, "flag": True, "at": "2026-01-01T00:00:00", "tags": ["t", 1]},
        {"name": None, "count": None, "score": 0.25, "flag": False, "at": None, "tags": {"k": None}},
    ]


def test_predictions_join_the_payloads_that_have_one() -> None:
    kind = (kinds.get("spans"), {"classes": ["PER"], "allow_overlap": False})
    frame = pd.DataFrame({"text": ["Ada Lovelace", "nobody"], "prediction": [[{"start": 0, "end": 3, "label": "PER"}], None]})
    payloads = [json.loads(row[1]) for row in _rows(frame, kind)]
    assert payloads == [
        {"text": "Ada Lovelace", "prediction": [{"start": 0, "end": 3, "label": "PER", "text": "Ada"}]}, {"text": "nobody"},
    ]
    with pytest.raises(ValidationError, match=r"row 1, field 'prediction': spans\[0\]: range \[0, 30\)"):
        tasks_from_frame(frame.assign(prediction=[None, [{"start": 0, "end": 30, "label": "PER"}]]), *kind)


def test_values_the_store_cannot_keep_are_named_in_any_dtype() -> None:
    frame = pd.DataFrame({
        "id": pd.Series(["a", "b\x00", "c", 4], dtype=object),
        "text": pd.Series(["x", "y", "z\x00", "w"], dtype="str"),
        "note": pd.Series(["ok", None, "n\x00", "ok"], dtype="str"),
        "shop": pd.Categorical(["a", "b", "a", "c\x00"]),
        "priority": [0, np.nan, 1, np.inf],
    })
    with pytest.raises(ValidationError) as caught:
        tasks_from_frame(frame, *TEXT_CLASS)
    assert sorted((p.row, p.field) for p in caught.value.problems) == [
        (1, "id"), (1, "priority"), (2, "note"), (2, "text"), (3, "priority"), (3, "shop"),
    ]
    assert "contains U+0000 (NUL) at position 1" in str(caught.value)


def test_integer_ids_become_strings_and_long_or_blank_ones_are_named() -> None:
    assert [row[0] for row in _rows(pd.DataFrame({"id": [7, 8], "text": ["a", "b"]}))] == ["7", "8"]
    frame = pd.DataFrame({"id": ["x" * (MAX_ID_LENGTH + 1), " ", "ok"], "text": ["a", "b", "c"]})
    with pytest.raises(ValidationError) as caught:
        tasks_from_frame(frame, *TEXT_CLASS)
    assert [(p.row, p.field) for p in caught.value.problems] == [(0, "id"), (1, "id")]
