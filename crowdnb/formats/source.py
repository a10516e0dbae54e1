"""A project as the stream of `Item`s that formats write: tasks in order, each with its answers.

Raw exports read labels through `label_batches`, one piece of tasks at a time, so a project of
millions of labels is never whole in memory; the task table (one row per task) is read once.
Aggregated exports read `results` (one row per task) and keep the confident ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crowdnb.formats.base import Answer, Item, Options

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.project import Project

LABEL_COLUMNS = ["task", "worker", "label", "status", "annotation_id"]
TASKS_PER_PIECE = 20_000
AGGREGATE_KEYS = frozenset({"agreement", "n_workers"})  # what aggregation adds to each shape


def items(project: Project, options: Options) -> Iterator[Item]:
    """The project's tasks in order with the answers `options` select."""
    tasks = project.tasks()
    answers = _aggregated(project, options) if options.aggregated else _raw(project, options)
    ids, payloads, metas = tasks["id"].tolist(), tasks["payload"].tolist(), tasks["meta"].tolist()
    del tasks
    pending: tuple[str, list[Answer]] | None = next(answers, None)
    for task_id, payload, meta in zip(ids, payloads, metas, strict=True):
        found: list[Answer] = []
        if pending is not None and pending[0] == task_id:
            found = pending[1]
            pending = next(answers, None)
        yield Item(task_id, payload, meta or {}, found)
    if pending is not None:  # the labels or results did not follow the task order: never drop them silently
        raise RuntimeError(f"answers of task {pending[0]!r} came out of task order; nothing was exported")


def _raw(project: Project, options: Options) -> Iterator[tuple[str, list[Answer]]]:
    """Each labeled task's current labels, grouped by task in task order."""
    wanted = set(options.workers) if options.workers is not None else None
    current: str | None = None
    group: list[Answer] = []
    for piece in project.label_batches(LABEL_COLUMNS, tasks_per_batch=TASKS_PER_PIECE):
        for task, worker, label, status, annotation_id in zip(*(piece[c].tolist() for c in LABEL_COLUMNS), strict=True):
            if options.approved_only and status != "approved":
                continue
            if wanted is not None and worker not in wanted:
                continue
            if task != current:
                if group:
                    yield current, group  # type: ignore[misc]
                current, group = task, []
            group.append(Answer(label, worker=worker, status=status, annotation_id=annotation_id))
    if group:
        yield current, group  # type: ignore[misc]


def _aggregated(project: Project, options: Options) -> Iterator[tuple[str, list[Answer]]]:
    """Each task's aggregated answer at or above `min_confidence`, in task order."""
    if options.workers is not None or options.approved_only:
        raise ValueError("workers and approved_only select raw labels; aggregated results count every trusted label")
    results: pd.DataFrame = project.results(options.method) if options.method else project.results()
    floor = options.min_confidence
    for task, label, confidence in zip(results["task"].tolist(), results["label"].tolist(), results["confidence"].tolist(), strict=True):
        if label is None or _missing(confidence) or (floor is not None and confidence < floor):
            continue
        label, agreement = _parts(label)
        yield task, [Answer(label, confidence=float(confidence), agreement=agreement)]


def _parts(result: Any) -> tuple[Any, list[float] | None]:
    """An aggregated answer split into the label (as the kind's schema has it) and, for a list
    of shapes, regions or spans, each one's agreement."""
    if not (isinstance(result, list) and result and all(isinstance(v, dict) for v in result)):
        return result, None
    agreement = [float(v.get("agreement", math.nan)) for v in result]
    return [{k: v for k, v in value.items() if k not in AGGREGATE_KEYS} for value in result], agreement


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
