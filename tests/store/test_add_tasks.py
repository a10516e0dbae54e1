"""Adding tasks to a store: ids already in the project are named by row and id, skipped ones
count as done, and a skipped id whose content changed is not skipped silently."""

from __future__ import annotations

import pandas as pd
import pytest

import crowdnb
from crowdnb.store import SqlStore


def _project(store: SqlStore) -> crowdnb.Project:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
    project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], "text": ["one", "two"]}))
    return project


def test_an_id_already_in_the_project_is_named_with_its_row(store: SqlStore) -> None:
    project = _project(store)
    frame = pd.DataFrame({"id": ["new", "t2"], "text": ["x", "two"]}, index=["first", "second"])
    with pytest.raises(crowdnb.ValidationError) as raised:
        project.add_tasks(frame)
    (problem,) = raised.value.problems
    assert (problem.row, problem.field) == ("second", "id") and "'t2' is already in the project" in problem.message
    assert project.tasks()["id"].tolist() == ["t1", "t2"]  # all or nothing


def test_skipping_counts_the_skipped_rows_as_done(store: SqlStore) -> None:
    project = _project(store)
    ticks: list[tuple[str, int]] = []
    frame = pd.DataFrame({"id": ["t1", "t2", "t3"], "text": ["one", "two", "three"]})
    assert store.add_tasks(project.info.id, frame, on_duplicate="skip", progress=lambda *tick: ticks.append(tick)) == 1
    assert sum(n for phase, n in ticks if phase == "storing") == 3
    assert sum(n for phase, n in ticks if phase == "checking") == 3


def test_a_skipped_id_with_other_content_warns_and_is_left_as_it_is(store: SqlStore) -> None:
    project = _project(store)
    with pytest.warns(UserWarning, match=r"1 task\(s\) already in the project with other content.*'t2'"):
        assert project.add_tasks(pd.DataFrame({"id": ["t2"], "text": ["changed"]}), on_duplicate="skip") == 0
    assert project.tasks().set_index("id").loc["t2", "payload"] == {"text": "two"}


def test_the_same_content_again_is_skipped_without_a_word(store: SqlStore, recwarn: pytest.WarningsRecorder) -> None:
    project = _project(store)
    assert project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], "text": ["one", "two"]}), on_duplicate="skip") == 0
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_on_duplicate_takes_only_known_words(store: SqlStore) -> None:
    project = _project(store)
    with pytest.raises(ValueError, match="on_duplicate must be one of"):
        project.add_tasks(pd.DataFrame({"text": ["x"]}), on_duplicate="replace")
