"""Adding tasks to a store: ids already in the project are named by row and id, skipped ones
count as done, a skipped id whose content changed is not skipped silently, and a failure while
the rows stream in (from the database or the caller) stores none of them."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from pgcluster import Cluster

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


def _texts(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"t{i:06d}" for i in range(start, start + n)], "text": [f"text {i}" for i in range(start, start + n)]})


def test_an_id_already_stored_among_20000_rows_is_named_and_nothing_is_stored(store: SqlStore) -> None:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
    project.add_tasks(_texts(1, start=12_345))
    frame = _texts(20_000)
    frame.index = [f"r{i}" for i in range(20_000)]
    with pytest.raises(crowdnb.ValidationError) as raised:
        project.add_tasks(frame)
    (problem,) = raised.value.problems
    assert (problem.row, problem.field) == ("r12345", "id") and "'t012345' is already in the project" in problem.message
    assert store.count_tasks(project.info.id) == 1


def test_a_duplicate_id_far_apart_in_the_frame_is_named_with_its_first_row(store: SqlStore) -> None:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
    frame = _texts(30_000)
    frame.loc[29_999, "id"] = "t000003"
    with pytest.raises(crowdnb.ValidationError) as raised:
        project.add_tasks(frame)
    assert [str(p) for p in raised.value.problems] == ["row 29999, field 'id': duplicate id 't000003' (first at row 3)"]
    assert store.count_tasks(project.info.id) == 0


def test_re_adding_with_skip_adds_the_new_rows_after_the_stored_ones(store: SqlStore, recwarn: pytest.WarningsRecorder) -> None:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
    assert project.add_tasks(_texts(15_000, start=10_000)) == 15_000
    ticks: list[tuple[str, int]] = []
    added = store.add_tasks(project.info.id, _texts(45_000), on_duplicate="skip", progress=lambda *tick: ticks.append(tick))
    assert added == 30_000
    assert sum(n for phase, n in ticks if phase == "storing") == sum(n for phase, n in ticks if phase == "checking") == 45_000
    stored = project.tasks()["id"].tolist()
    assert stored == [f"t{i:06d}" for i in [*range(10_000, 25_000), *range(10_000), *range(25_000, 45_000)]]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_a_changed_row_among_many_skipped_ones_is_named(store: SqlStore) -> None:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
    project.add_tasks(_texts(25_000).assign(answer="a", shop="x"))
    again = _texts(25_000).assign(answer="a", shop="x")
    again.loc[21_000, "shop"] = "y"
    with pytest.warns(UserWarning, match=r"^1 task\(s\) already in the project with other content.*\['t021000'\]"):
        assert project.add_tasks(again, on_duplicate="skip") == 0


def test_unicode_comes_back_exactly(store: SqlStore) -> None:
    texts = ["日本語のテキスト、句読点。", "emoji 😀 and é", 'quote " backslash \\ tab \t newline \n', "\u2028 and \x1f"]
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["良い", "悪い"])
    frame = pd.DataFrame({"text": texts, "answer": ["良い", None, "悪い", None], "備考": texts})
    project.add_tasks(frame)
    stored = project.tasks()
    assert [p["text"] for p in stored["payload"]] == texts
    assert [m["備考"] for m in stored["meta"]] == texts
    assert stored["known_answer"].tolist() == ["良い", None, "悪い", None]
    with store.engine.connect() as conn:  # as the database itself reads them
        assert conn.exec_driver_sql("SELECT payload ->> 'text' FROM tasks ORDER BY position").scalars().all() == texts


def test_a_failure_in_the_middle_of_the_copy_leaves_the_project_as_it_was(store: SqlStore) -> None:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
    project.add_tasks(_texts(10, start=100_000))
    before = project.tasks()
    with store.engine.begin() as conn:  # the database itself refuses one row, far into the stream
        if store.dialect == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN IF NEW.external_id = 't030000' THEN RAISE 'refused'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION refuse()")
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON tasks WHEN NEW.external_id = 't030000' "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    with pytest.raises(sa.exc.DBAPIError, match="refused"):
        project.add_tasks(_texts(40_000))
    pd.testing.assert_frame_equal(project.tasks(), before)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse" + (" ON tasks" if store.dialect == "postgresql" else ""))
    assert project.add_tasks(_texts(40_000)) == 40_000


def test_an_interrupt_while_storing_stores_nothing(store: SqlStore) -> None:
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])

    def interrupt(phase: str, rows: int) -> None:
        if phase == "storing":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.add_tasks(project.info.id, _texts(50_000), progress=interrupt)
    assert store.count_tasks(project.info.id) == 0
    assert project.add_tasks(_texts(50_000)) == 50_000


@pytest.mark.postgres
def test_postgres_statistics_count_the_new_tasks(pg_cluster: Cluster) -> None:
    with SqlStore(pg_cluster.new_database()) as store:
        project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b"])
        project.add_tasks(_texts(3_000))
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE relname = 'tasks'").scalar() == 3_000
