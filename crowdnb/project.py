"""`Project`: the user's entry point. Tasks in, a widget to label them, labels out."""

from __future__ import annotations

import getpass
import os
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from crowdnb import kinds
from crowdnb.aggregation.methods import RESULT_COLUMNS, aggregate
from crowdnb.errors import Conflict
from crowdnb.intake import tasks_from_frame
from crowdnb.quality.rules import QualityPolicy
from crowdnb.session import StoreReviews, StoreSource, local_image
from crowdnb.store import ProjectInfo, Store
from crowdnb.widgets import Inspector, Labeler, PluginLabeler

WORKER_ENV = "CROWDNB_WORKER"
PROGRESS_FROM_ROWS = 5_000


def default_worker() -> str:
    """Who is labeling when nobody says: `$CROWDNB_WORKER`, else the local user name."""
    return os.environ.get(WORKER_ENV) or getpass.getuser()


def _store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


class Project:
    """A labeling project in a store: its kind, label configuration, tasks and labels.

    Use `Project.create(...)` or `Project.open(...)`; `store` is a `Store`, a SQLAlchemy URL
    (``sqlite:///...`` or ``postgresql+psycopg://...``), a SQLite file path, or None for the
    default (`$CROWDNB_STORE`, else a SQLite file in the user's data directory).
    """

    def __init__(self, store: Store, info: ProjectInfo) -> None:
        self.store = store
        self.info = info
        self.kind = kinds.get(info.kind)

    def __repr__(self) -> str:
        return f"Project({self.info.name!r}, kind={self.info.kind!r}, store={self.store!r})"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def config(self) -> dict[str, Any]:
        return self.info.config

    @classmethod
    def create(
        cls,
        name: str,
        kind: str,
        *,
        store: Store | str | None = None,
        overlap: int = 1,
        price: int = 0,
        quality: QualityPolicy | None = None,
        exist_ok: bool = False,
        **options: Any,
    ) -> Project:
        """Create a project of `kind` (e.g. ``"image-class"`` with ``classes=[...]``), with an
        optional quality policy (control tasks, rules for workers, dynamic overlap).

        With `exist_ok=True`, an existing project of the same kind and options is opened instead
        (so re-running a notebook is harmless); one that differs raises `Conflict`.
        """
        definition = kinds.get(kind)
        config = definition.make_config(**options)
        target = _store(store)
        if exist_ok and name in target.project_names():
            info = target.project(name)
            if (info.kind, info.config) != (kind, config):
                raise Conflict(
                    f"project {name!r} exists as {info.kind} with {info.config}, not {kind} with {config}"
                )
            return cls(target, info)
        return cls(target, target.create_project(name, kind, config, overlap=overlap, price=price, quality=quality))

    @classmethod
    def open(cls, name: str, *, store: Store | str | None = None) -> Project:
        """Open an existing project; `NotFound` lists the projects the store has."""
        target = _store(store)
        return cls(target, target.project(name))

    def add_tasks(
        self, frame: pd.DataFrame, *, on_duplicate: str = "error", progress: bool | None = None
    ) -> int:
        """Add one task per row, all or nothing; returns the number added.

        The kind's media column is required (``image``: a path or http(s) URL; ``text``);
        ``id``, ``answer`` and ``priority`` are optional; other columns become metadata.
        Bad rows raise `ValidationError` naming each row and field. Ids already in the
        project raise too, or are skipped with ``on_duplicate="skip"``. A progress bar shows
        for large frames (or when `progress=True`).
        """
        show = len(frame) >= PROGRESS_FROM_ROWS if progress is None else progress
        with tqdm(total=len(frame), desc="checking", unit="task", disable=not show) as bar:
            new = tasks_from_frame(frame, self.kind, self.config, tick=bar.update)
        with tqdm(total=len(new), desc="storing", unit="task", disable=not show) as bar:
            return self.store.add_tasks(self.info.id, new, on_duplicate=on_duplicate, progress=bar.update)

    def annotate(
        self, *, worker: str | None = None, prefetch: int = 5, widget: Any = None, **plugin: Any
    ) -> Labeler | PluginLabeler:
        """A widget to label this project's tasks, starting at the first one `worker` has not
        labeled (the local user by default); ``?`` in the widget lists its keys.

        `widget` plugs in any widget with ipyannotations' protocol (``display`` and
        ``on_submit``, e.g. ``ipyannotations.images.ClassLabeller``) instead of crowdnb's own;
        `plugin` options (``to_input``, ``to_label``) go to `PluginLabeler`.
        """
        who = worker or default_worker()
        source = StoreSource(self.store, self.info, self.store.worker_id(who))
        title = f"{self.name} · {who}"
        if widget is not None:
            return PluginLabeler(source, widget, title=title, prefetch=prefetch, **plugin)
        return Labeler(source, view=self.kind.view, config=self.config, prefetch=prefetch, title=title)

    def inspect(self, *, inspector: str | None = None) -> Inspector:
        """A widget to approve or reject the labels waiting for inspection (see
        `Store.set_review`); never shows the inspector their own work."""
        who = self.store.worker_id(inspector or default_worker(), role="inspector")
        return Inspector(StoreReviews(self.store, self.info, who), image_bytes=local_image)

    def tasks(self) -> pd.DataFrame:
        """All tasks: id, payload, meta, known_answer, priority, n_labels."""
        return self.store.tasks(self.info.id)

    def labels(self) -> pd.DataFrame:
        """Current labels: task, worker, label, submitted_at (UTC), duration_ms, status,
        annotation_id, flag, prediction_accepted."""
        return self.store.labels(self.info.id)

    def set_quality(self, policy: QualityPolicy | None) -> None:
        """Change the quality policy (None: no quality control); applies to what comes next."""
        self.store.set_quality(self.info.id, policy)
        self.info = self.store.project(self.name)

    def workers(self) -> pd.DataFrame:
        """Each worker's standing: worker, status (active, suspended, banned), control answers,
        correct ones, skill, skips in a row."""
        return self.store.worker_standing(self.info.id)

    def results(self, method: str | None = None, *, include_flagged: bool = False, **params: Any) -> pd.DataFrame:
        """One answer per task: task, label, confidence, n_labels (in task order; a task without
        labels has label None and confidence NaN).

        `method` defaults to the kind's (Dawid-Skene for classification; see
        ``crowdnb.aggregation.methods.METHODS``), `params` go to it. Labels of banned workers
        and rejected ones are left out, and so are flagged ones (e.g. too fast) unless
        `include_flagged`. Known answers are held fixed by Dawid-Skene; structured methods weigh
        workers by their skill (control answers, and agreement with confidently closed tasks)
        once any worker has answered a control task.
        """
        labels = self.labels()
        standing = self.workers().set_index("worker")
        banned = set(standing.index[standing["status"] == "banned"])
        keep = ~labels["worker"].isin(banned) & (labels["status"] != "rejected")
        if not include_flagged:
            keep &= labels["flag"].isna()
        tasks = self.tasks()
        known = tasks.set_index("id")["known_answer"].dropna()
        skills = standing["skill"] if (standing["n_control"] > 0).any() else None
        result = aggregate(
            labels.loc[keep, ["task", "worker", "label"]], method or self.kind.aggregator, known=known, skills=skills, **params
        )
        result = result.set_index("task").reindex(tasks["id"]).rename_axis("task").reset_index()
        result["label"] = result["label"].astype(object).where(result["label"].notna(), None)
        result["n_labels"] = result["n_labels"].fillna(0).astype(int)
        return result[RESULT_COLUMNS]

    def progress(self, worker: str | None = None) -> tuple[int, int]:
        """(tasks labeled by `worker`, all tasks)."""
        return self.store.progress(self.info.id, self.store.worker_id(worker or default_worker()))

