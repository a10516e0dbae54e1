"""The scale benchmark's loader (benchmarks/scale_load.py) writes what the store writes: the same
small project built by the loader and through the API (a claim and a submit per label, then the
inspectors' decisions) leaves the same rows in every table, surrogate ids and timestamps aside,
the same schema, and the same reads."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from crowdnb import Project
from crowdnb.store import SqlStore, Submission
from crowdnb.store.schema import UTCDateTime, metadata, projects, tasks, workers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import scale_load

SPEC = scale_load.Spec(
    tasks=150, labels_per_task=3, workers=20, control_share=0.05, review_rate=0.2, inspectors=2, price=2,
)
NAME = "scale"
MAPPED = {"project_id": "project", "task_id": "task", "worker_id": "worker", "inspector_id": "worker"}


@pytest.fixture
def api_url(store_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A second empty store on the same back end as `store_url`."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'api.sqlite'}"
    return request.getfixturevalue("pg_cluster").new_database()


def replay(url: str, spec: scale_load.Spec, name: str) -> None:
    """The spec's project through the API: the tasks added as a DataFrame, every worker and
    inspector made a member; then task by task each of its workers claims one task (the store
    hands out that one, as every earlier task is full) and submits the generated label; then the
    inspectors decide."""
    with SqlStore(url) as store:
        project = Project.create(
            name, scale_load.KIND, store=store, classes=list(spec.classes), overlap=spec.labels_per_task,
            price=spec.price, quality=spec.policy, review_rate=spec.review_rate,
        )
        pid = project.info.id
        parts = list(scale_load.chunks(spec, scale_load.crowd(spec)))
        classes = np.array(spec.classes, dtype=object)
        project.add_tasks(pd.concat([
            pd.DataFrame({
                "id": scale_load.task_ids(c.start, len(c.truth)),
                "text": c.text,
                "answer": np.where(c.control, classes[c.truth], None),
                "batch": scale_load.batch_of(c.start + np.arange(len(c.truth))),
            })
            for c in parts
        ]))
        crowd = [store.worker_id(n) for n in scale_load.worker_names(spec.workers)]
        inspectors = [store.worker_id(n, "inspector") for n in scale_load.inspector_names(spec.inspectors)]
        for member in [*scale_load.worker_names(spec.workers), *scale_load.inspector_names(spec.inspectors)]:
            project.add_member(member)
        for c in parts:
            for i, position in enumerate(c.task_of_label):
                worker = crowd[c.worker[i]]
                (task,) = store.claim(pid, worker, 1)
                assert task.external_id == scale_load.task_ids(int(position), 1)[0]
                store.submit(pid, worker, Submission(c.annotation_id[i], task.id, classes[c.label[i]], int(c.duration_ms[i])))
        for c in parts:
            for i in np.flatnonzero(c.inspector >= 0):
                rejected = c.status[i] == 2
                reason = scale_load.REJECTIONS[c.reason[i]] if rejected else ""
                store.decide(pid, inspectors[c.inspector[i]], c.annotation_id[i], "reject" if rejected else "approve", reason)


def other_project(url: str) -> None:
    """A store in use: another project with a task labeled by one of the crowd's workers."""
    with SqlStore(url) as store:
        project = Project.create("other", "text-class", store=store, classes=["a", "b"], price=1)
        project.add_tasks(pd.DataFrame({"id": ["x"], "text": ["some text"]}))
        worker = store.worker_id(scale_load.worker_names(1)[0])
        (task,) = store.claim(project.info.id, worker, 1)
        store.submit(project.info.id, worker, Submission("other-1", task.id, "a", 5000))


def table_rows(url: str) -> dict[str, list[str]]:
    """Every row of every table, sorted, with surrogate ids left out, references by name (project,
    task's external id, worker), timestamps only as set or not, JSON as the stored text."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = {
            "project": dict(conn.execute(sa.select(projects.c.id, projects.c.name)).all()),
            "task": dict(conn.execute(sa.select(tasks.c.id, tasks.c.external_id)).all()),
            "worker": dict(conn.execute(sa.select(workers.c.id, workers.c.name)).all()),
        }
        out = {}
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if not (c.name == "id" and isinstance(c.type, sa.Integer))]
            shown = [
                c.is_(None) if isinstance(c.type, UTCDateTime) else sa.cast(c, sa.Text) if isinstance(c.type, sa.JSON) else c
                for c in columns
            ]
            rows = []
            for row in conn.execute(sa.select(*shown)):
                values: dict[str, Any] = dict(zip([c.name for c in columns], row, strict=True))
                for column, kind in MAPPED.items():
                    if values.get(column) is not None:
                        values[column] = names[kind][values[column]]
                if table.name == "ledger":
                    _, task, worker = values["key"].split(":")
                    values["key"] = f"label:{names['task'][int(task)]}:{names['worker'][int(worker)]}"
                rows.append(repr(sorted(values.items())))
            out[table.name] = sorted(rows)
    engine.dispose()
    return out


def schema(url: str) -> list[tuple[Any, ...]]:
    """The tables' definitions as the database has them: indexes, constraints, storage options.
    (SQLite's are compared line by line: the migrations' table rebuilds list the constraints in
    an order that varies from one store to the next.)"""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = [
                (kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
                for kind, name, sql in conn.execute(
                    sa.text("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
                )
            ]
        else:
            found = conn.execute(sa.text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                "   WHERE connamespace = 'public'::regnamespace"
                " UNION ALL SELECT relname, relkind::text, coalesce(array_to_string(reloptions, ','), '') FROM pg_class"
                "   WHERE relnamespace = 'public'::regnamespace"
            ))
        rows = sorted(tuple(r) for r in found)
    engine.dispose()
    return rows


def reads(url: str) -> dict[str, pd.DataFrame]:
    """What a manager reads of the project: labels (without their times), tasks, workers, results."""
    with SqlStore(url) as store:
        project = Project.open(NAME, store=store)
        labels = project.labels().drop(columns="submitted_at").sort_values(["task", "worker"], ignore_index=True)
        return {"labels": labels, "tasks": project.tasks(), "workers": project.workers(), "results": project.results()}


def assert_same_rows(ours: str, theirs: str) -> None:
    loaded, expected = table_rows(ours), table_rows(theirs)
    for table in expected:
        missing = sorted(set(expected[table]) - set(loaded[table]))[:3]
        extra = sorted(set(loaded[table]) - set(expected[table]))[:3]
        assert loaded[table] == expected[table], f"{table}: expected {missing}..., the loader wrote {extra}..."
    assert schema(ours) == schema(theirs)


def test_loader_writes_what_the_api_writes(store_url: str, api_url: str) -> None:
    summary = scale_load.build(store_url, SPEC, name=NAME)
    replay(api_url, SPEC, NAME)
    assert_same_rows(store_url, api_url)
    ours, theirs = reads(store_url), reads(api_url)
    for name, frame in theirs.items():
        pd.testing.assert_frame_equal(ours[name], frame, obj=name)
    counts = summary.counts
    assert (counts["tasks"], counts["annotations"], counts["workers"]) == (150, 450, 20)
    assert min(counts[k] for k in ("controls", "approved", "submitted", "rejected", "flagged", "reviews", "ledger")) > 0
    assert len(summary.truth_frame()) == SPEC.tasks


def test_a_store_in_use_gets_the_same_rows(store_url: str, api_url: str) -> None:
    """Loaded into a store with another project (a worker of the crowd known already, and on
    PostgreSQL the keys kept during the load), the project is the same as in a new store."""
    scale_load.build(store_url, SPEC, name=NAME)
    other_project(store_url)
    other_project(api_url)
    scale_load.build(api_url, SPEC, name=NAME)
    assert_same_rows(api_url, store_url)


def test_labels_follow_the_workers_skills() -> None:
    """The crowd is as specified: skills in [0.55, 0.95], each worker right about that often, no
    worker twice on a task, about the control share of tasks with known answers."""
    spec = scale_load.Spec(tasks=40_000, labels_per_task=5, workers=50)
    people = scale_load.crowd(spec)
    assert people.skill.min() >= 0.55 and people.skill.max() <= 0.95
    parts = list(scale_load.chunks(spec, people))
    worker = np.concatenate([c.worker for c in parts])
    right = np.concatenate([c.label == np.repeat(c.truth, spec.labels_per_task) for c in parts])
    accuracy = np.bincount(worker, right, spec.workers) / np.bincount(worker, minlength=spec.workers)
    assert np.abs(accuracy - people.skill).max() < 0.05
    per_task = np.sort(worker.reshape(-1, spec.labels_per_task), axis=1)
    assert (per_task[:, 1:] != per_task[:, :-1]).all()
    controls = np.concatenate([c.control for c in parts]).mean()
    assert abs(controls - spec.control_share) < 0.005
