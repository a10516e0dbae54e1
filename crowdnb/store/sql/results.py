"""Aggregated results of a project: which labels count, then the kind's (or a named) method.

Labels that count: not superseded, not rejected, not from a banned worker, and not flagged
(e.g. too fast) unless asked. For single-choice classes the database sends only integer ids and
the class name of each counted label (`columns`), coded straight into the aggregation's integer
arrays; no Python object per label exists. Other kinds read their labels as values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from crowdnb.aggregation.base import Answers
from crowdnb.aggregation.methods import RESULT_COLUMNS, SINGLE_CHOICE, aggregate, estimator_class
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store.schema import annotations, project_workers, projects, result_runs, tasks
from crowdnb.store.schema import results as stored_results
from crowdnb.store.sql import columns, crowd_model, quality, reads

ANSWERS = {"task_id": pa.int64(), "worker_id": pa.int64(), "label": pa.dictionary(pa.int32(), pa.string())}
KNOWN = {"external_id": pa.string(), "known_answer": pa.string()}
STORED = {"task": pa.string(), "label": pa.string(), "confidence": pa.float64(), "n_labels": pa.int64()}


def results(
    conn: sa.Connection, project_id: int, method: Any, *, class_labels: bool, include_flagged: bool = False,
    **params: Any,
) -> pd.DataFrame:
    """One answer per task in task order (a task without counted labels has label None,
    confidence NaN and n_labels 0). Known answers are held fixed by Dawid-Skene; structured
    methods weigh workers by their skill once any worker has answered a control task.
    `class_labels`: the project's labels are class names (single-choice kinds). The frame's
    `attrs` keep the tasks' store ids and positions (for `keep`)."""
    order = reads.TaskOrder.read(conn, project_id)
    external = pd.Index(order.external.to_pandas(), name="task")
    if class_labels and estimator_class(method) in SINGLE_CHOICE:
        found = _coded(conn, project_id, order, external, method, include_flagged, params)
    else:
        found = _by_value(conn, project_id, method, include_flagged, params)
    found = found.set_index("task").reindex(external).reset_index()
    found["label"] = found["label"].astype(object).where(found["label"].notna(), None)
    found["n_labels"] = found["n_labels"].fillna(0).astype(int)
    found = found[RESULT_COLUMNS]
    found.attrs.update(task_ids=order.ids, positions=order.positions)
    return found


DYNAMIC = "dynamic-overlap"  # the results of a dynamic-overlap project: what its tasks were decided with


def decided(conn: sa.Connection, project_id: int, *, include_flagged: bool = False) -> pd.DataFrame:
    """Results of a dynamic-overlap project, in task order: a task the crowd decided has the
    answer and posterior it was decided with (the ones that stopped it), one an inspector
    decided has their answer at confidence 1, a control task its known answer at 1; any other
    task the posterior of its counted labels under the crowd model now (also those waiting
    for an inspector). n_labels counts the labels that count."""
    project = conn.execute(sa.select(projects.c.kind, projects.c.config, projects.c.quality).where(projects.c.id == project_id)).one()
    policy = QualityPolicy.from_dict(project.quality)
    query = (
        sa.select(tasks.c.id, tasks.c.external_id, tasks.c.decided, tasks.c.answer, tasks.c.confidence, tasks.c.is_control, tasks.c.known_answer)
        .where(tasks.c.project_id == project_id)
        .order_by(tasks.c.position)
    )
    found = conn.execute(query).all()
    labels = conn.execute(
        sa.select(annotations.c.task_id, annotations.c.worker_id, annotations.c.label).where(*counted(project_id, include_flagged))
    ).all()
    by_task: dict[int, list[tuple[int, Any]]] = {}
    for task_id, worker_id, label in labels:
        by_task.setdefault(task_id, []).append((worker_id, label))
    open_tasks = [t.id for t in found if t.decided not in ("crowd", "inspector") and not t.is_control and by_task.get(t.id)]
    crowd = crowd_model.Crowd.read_all(conn, project_id, project, policy) if open_tasks else None
    rows = []
    for t in found:
        mine = by_task.get(t.id, [])
        if t.is_control:
            label, confidence = t.known_answer, 1.0
        elif t.decided == "inspector":
            label, confidence = t.answer, 1.0
        elif t.decided == "crowd":
            label, confidence = t.answer, t.confidence
        elif mine and crowd is not None:
            now = crowd.posterior(mine)
            label, confidence = crowd.classes[now.best], now.confidence
        else:
            label, confidence = None, float("nan")
        rows.append((t.external_id, label, confidence, len(mine)))
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["confidence"] = frame["confidence"].astype(float)
    frame.attrs.update(task_ids=np.array([t.id for t in found], dtype=np.int64), positions=reads.TaskOrder.read(conn, project_id).positions)
    return frame


def escalated(conn: sa.Connection, project_id: int) -> pd.DataFrame:
    """Tasks that dynamic overlap sent to an inspector, in task order: task, votes (label:
    count of the labels that count), label (the leading one), confidence, n_labels."""
    query = (
        sa.select(tasks.c.id, tasks.c.external_id, tasks.c.answer, tasks.c.confidence)
        .where(tasks.c.project_id == project_id, tasks.c.decided == "review")
        .order_by(tasks.c.position)
    )
    waiting = conn.execute(query).all()
    votes: dict[int, dict[Any, int]] = {t.id: {} for t in waiting}
    if waiting:
        labels = conn.execute(
            sa.select(annotations.c.task_id, annotations.c.label).where(
                *counted(project_id, include_flagged=False), annotations.c.task_id.in_(list(votes))
            )
        )
        for task_id, label in labels:
            votes[task_id][label] = votes[task_id].get(label, 0) + 1
    return pd.DataFrame(
        [(t.external_id, votes[t.id], t.answer, t.confidence, sum(votes[t.id].values())) for t in waiting],
        columns=["task", "votes", "label", "confidence", "n_labels"],
    )


def counted(project_id: int, include_flagged: bool) -> list[sa.ColumnElement[bool]]:
    """The conditions on `annotations` of the labels that count towards results."""
    banned = sa.select(project_workers.c.worker_id).where(
        project_workers.c.project_id == project_id, project_workers.c.status == "banned"
    )
    where = [
        annotations.c.project_id == project_id,
        annotations.c.status.not_in(["superseded", "rejected"]),
        annotations.c.worker_id.not_in(banned),
    ]
    return where if include_flagged else [*where, annotations.c.flag.is_(None)]


def _coded(
    conn: sa.Connection, project_id: int, order: reads.TaskOrder, external: pd.Index, method: Any,
    include_flagged: bool, params: dict[str, Any],
) -> pd.DataFrame:
    """Results of a categorical method on integer codes read straight from the database."""
    query = sa.select(annotations.c.task_id, annotations.c.worker_id, columns.json_text(annotations.c.label).label("label"))
    found = columns.table(conn, query.where(*counted(project_id, include_flagged)), ANSWERS)
    if found.num_rows == 0:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    worker_ids = found["worker_id"].to_numpy()
    labels = found["label"].unify_dictionaries()
    # Codes into every task, every worker id and the classes as read: `aggregate` compacts them.
    answers = Answers(
        task=order.rows(found["task_id"].to_numpy()), worker=worker_ids,
        label=np.concatenate([c.indices.to_numpy() for c in labels.chunks]),
        tasks=external, workers=pd.RangeIndex(int(worker_ids.max()) + 1, name="worker"),
        labels=pd.Index(labels.chunk(0).dictionary.to_pylist(), name="label"),
    )
    return aggregate(answers, method, known=known_answers(conn, project_id), **params)


def _by_value(conn: sa.Connection, project_id: int, method: Any, include_flagged: bool, params: dict[str, Any]) -> pd.DataFrame:
    """Results of any method on the counted labels read as values."""
    labels = reads.label_frame(conn, project_id, ["task", "worker", "label"], where=counted(project_id, include_flagged))
    standing = quality.worker_standing(conn, project_id).set_index("worker")
    skills = standing["skill"] if (standing["n_control"] > 0).any() else None
    return aggregate(labels, method, known=known_answers(conn, project_id), skills=skills, **params)


def known_answers(conn: sa.Connection, project_id: int) -> pd.Series:
    """The known answers of a project's control tasks, by task id."""
    query = sa.select(tasks.c.external_id, reads.as_text(tasks.c.known_answer).label("known_answer")).where(
        tasks.c.project_id == project_id, tasks.c.is_control
    )
    found = columns.table(conn, query, KNOWN)
    return pd.Series(reads.decoded(found["known_answer"]).to_numpy(), index=found["external_id"].to_pylist(), dtype=object)


def keep(conn: sa.Connection, project_id: int, found: pd.DataFrame, method: str, params: dict[str, Any], include_flagged: bool) -> datetime:
    """Store `found` (from `results`) as the project's last results, replacing the ones kept
    before; returns the time it was stored (the database's clock)."""
    conn.execute(result_runs.delete().where(result_runs.c.project_id == project_id))
    stamp = conn.execute(
        result_runs.insert()
        .values(
            project_id=project_id, method=method, params=params, include_flagged=include_flagged,
            n_tasks=len(found), n_labels=int(found["n_labels"].sum()),
        )
        .returning(result_runs.c.computed_at)
    ).scalar_one()
    confidence = found["confidence"].to_numpy(dtype=float)
    rows = zip(
        found.attrs["task_ids"].tolist(), found.attrs["positions"].tolist(), found["label"].tolist(),
        np.where(np.isnan(confidence), None, confidence).tolist(), found["n_labels"].tolist(), strict=True,
    )
    columns.insert(conn, stored_results, ["task_id", "position", "label", "confidence", "n_labels"], rows, {"project_id": project_id})
    return stamp


def kept(conn: sa.Connection, project_id: int) -> pd.DataFrame | None:
    """The project's stored results in task order, with `attrs` method, params,
    include_flagged, computed_at, n_labels; None when none are stored."""
    run = conn.execute(sa.select(result_runs).where(result_runs.c.project_id == project_id)).first()
    if run is None:
        return None
    query = (
        sa.select(tasks.c.external_id.label("task"), reads.as_text(stored_results.c.label).label("label"),
                  stored_results.c.confidence, stored_results.c.n_labels)
        .join(tasks, tasks.c.id == stored_results.c.task_id)
        .where(stored_results.c.project_id == project_id)
        .order_by(stored_results.c.position)
    )
    found = columns.table(conn, query, STORED)
    frame = pd.DataFrame({
        "task": found["task"].to_pandas(), "label": reads.decoded(found["label"]),
        "confidence": found["confidence"].to_numpy(zero_copy_only=False), "n_labels": found["n_labels"].to_numpy(),
    })
    frame.attrs.update(
        method=run.method, params=run.params, include_flagged=run.include_flagged, computed_at=run.computed_at, n_labels=run.n_labels,
    )
    return frame
