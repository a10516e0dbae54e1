"""`Project`: the user's entry point. Tasks in, a widget to label them, labels out.

The same class over any store: a local `SqlStore` (SQLite file, PostgreSQL URL) or a crowd
server (`crowdnb.connect(url, token)`); what the caller may do is decided by the store (a
server checks roles and membership).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from crowdnb import kinds
from crowdnb.errors import Conflict
from crowdnb.store import ProjectInfo, SqlStore, Store

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.formats import Exported, Imported

    from crowdnb.quality.rules import QualityPolicy, Status
    from crowdnb.widgets import Inspector, Labeler, PluginLabeler

PROGRESS_FROM_ROWS = 5_000


def open_store(store: Store | str | os.PathLike[str] | None) -> Store:
    """`store` itself, or a `SqlStore` at a URL or SQLite path (None: the default store)."""
    return store if isinstance(store, Store) else SqlStore(store)


class Project:
    """A labeling project in a store: its kind, label configuration, tasks and labels.

    Use `Project.create(...)` or `Project.open(...)`; `store` is a store (a `SqlStore`, or
    `crowdnb.connect(url, token)` for a crowd server), a SQLAlchemy URL (``sqlite:///...`` or
    ``postgresql+psycopg://...``), a SQLite file path, or None for the default
    (`$CROWDNB_STORE`, else a SQLite file in the user's data directory).
    """

    def __init__(self, store: Store, info: ProjectInfo) -> None:
        self.store = store
        self.info = info
        self.kind = kinds.get(info.kind)

    def __repr__(self) -> str:
        return f"Project({self.info.name!r}, kind={self.info.kind!r}, store={self.store!r})"

    @property
    def name(self) -> str:
        """The project's name."""
        return self.info.name

    @property
    def config(self) -> dict[str, Any]:
        """The label configuration (classes, keypoints, limits, ...)."""
        return self.info.config

    @classmethod
    def create(
        cls,
        name: str,
        kind: str,
        *,
        store: Store | str | os.PathLike[str] | None = None,
        overlap: int = 1,
        price: int = 0,
        quality: QualityPolicy | None = None,
        review_rate: float = 0.0,
        review_window_seconds: int | None = None,
        exist_ok: bool = False,
        **options: Any,
    ) -> Project:
        """Create a project of `kind` (e.g. ``"image-class"`` with ``classes=[...]``): each task
        gets `overlap` labels from distinct workers, each approved label earns `price` points;
        optional quality policy (control tasks, rules for workers, dynamic overlap) and share
        `review_rate` of labels sent to inspectors (approved unreviewed after
        `review_window_seconds`).

        With `exist_ok=True`, an existing project of the same kind and options is opened instead
        (so re-running a notebook is harmless); one that differs raises `Conflict`.
        """
        config = kinds.get(kind).make_config(**options)
        target = open_store(store)
        if exist_ok and name in target.project_names():
            info = target.project(name)
            if (info.kind, info.config) != (kind, config):
                raise Conflict(f"project {name!r} exists as {info.kind} with {info.config}, not {kind} with {config}")
            return cls(target, info)
        info = target.create_project(
            name, kind, config, overlap=overlap, price=price, quality=quality, review_rate=review_rate,
            review_window_seconds=review_window_seconds,
        )
        return cls(target, info)

    @classmethod
    def open(cls, name: str, *, store: Store | str | os.PathLike[str] | None = None) -> Project:
        """Open an existing project; `NotFound` lists the projects the store has."""
        target = open_store(store)
        return cls(target, target.project(name))

    def add_tasks(self, frame: pd.DataFrame, *, on_duplicate: str = "error", progress: bool | None = None) -> int:
        """Add one task per row, all or nothing; returns the number added.

        The kind's media column is required (``image``: a path or http(s) URL, relative to the
        server's media folder on a crowd server; ``text``); ``id``, ``answer`` and ``priority``
        are optional; other columns become metadata. Bad rows raise `ValidationError` naming
        each row and field. Ids already in the project raise too, or are skipped with
        ``on_duplicate="skip"`` (with a warning when their content changed). A progress bar
        shows for large frames (or when `progress=True`).
        """
        from tqdm.auto import tqdm

        show = len(frame) >= PROGRESS_FROM_ROWS if progress is None else progress
        bars: dict[str, Any] = {}

        def tick(phase: str, rows: int) -> None:
            if phase not in bars:
                bars[phase] = tqdm(total=len(frame), desc=phase, unit="task", disable=not show)
            bars[phase].update(rows)

        try:
            return self.store.add_tasks(self.info.id, frame, on_duplicate=on_duplicate, progress=tick)
        finally:
            for bar in bars.values():
                bar.close()

    def annotate(
        self, *, worker: str | None = None, prefetch: int = 5, widget: Any = None, **plugin: Any
    ) -> Labeler | PluginLabeler:
        """A widget to label this project's tasks, starting at the first one `worker` has not
        labeled (by default the local user, or the token's worker on a server); ``?`` in the
        widget lists its keys.

        `widget` plugs in any widget with ipyannotations' protocol (``display`` and
        ``on_submit``, e.g. ``ipyannotations.images.ClassLabeller``) instead of crowdnb's own;
        `plugin` options (``to_input``, ``to_label``) go to `PluginLabeler`.
        """
        from crowdnb.session import StoreSource
        from crowdnb.widgets import Labeler, PluginLabeler

        who = worker or self.store.current_worker()
        source = StoreSource(self.store, self.info, self.store.worker_id(who))
        title = f"{self.name} · {who}"
        if widget is not None:
            return PluginLabeler(source, widget, title=title, prefetch=prefetch, **plugin)
        return Labeler(source, view=self.kind.view, config=self.config, prefetch=prefetch, title=title)

    def inspect(self, *, inspector: str | None = None) -> Inspector:
        """A widget to approve or reject the labels waiting for inspection; never shows the
        inspector their own work."""
        from crowdnb.session import StoreReviews
        from crowdnb.widgets import Inspector

        who = self.store.worker_id(inspector or self.store.current_worker(), role="inspector")

        def image(payload: dict[str, Any]) -> bytes | None:
            shown = self.store.media(self.info.id, payload)
            return shown[0] if shown else None

        return Inspector(StoreReviews(self.store, self.info, who), image_bytes=image)

    def tasks(self) -> pd.DataFrame:
        """All tasks: id, payload, meta, known_answer, priority, n_labels, overlap."""
        return self.store.tasks(self.info.id)

    def labels(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Current labels in task order, then time: task, worker, label, submitted_at (UTC),
        duration_ms, status, annotation_id, flag, prediction_accepted. Name `columns` to read
        only those (memory is spent on the columns asked for)."""
        return self.store.labels(self.info.id, columns)

    def label_batches(self, columns: Sequence[str] | None = None, *, tasks_per_batch: int = 50_000) -> Iterator[pd.DataFrame]:
        """The labels as `labels` gives them, in pieces of `tasks_per_batch` tasks: for writing
        a project of millions of labels out with one piece in memory at a time."""
        return self.store.label_batches(self.info.id, columns, tasks_per_batch=tasks_per_batch)

    def export(self, path: str | os.PathLike[str], format: str, **options: Any) -> Exported:
        """Write the labels to `path` in `format` (``crowdnb.formats.formats_for(kind)`` lists
        them: COCO, YOLO, CoNLL, chat JSONL, Parquet, Label Studio, ...), with a manifest.

        Options: ``aggregated=True`` writes one answer per task (`results`) with its confidence
        where the format has a place for it, ``min_confidence`` drops less certain ones,
        ``method`` picks the aggregation; raw exports (the default) write every worker's label,
        ``approved_only`` only those an inspector (or the review window) approved, ``workers``
        only those workers'. ``media="copy"`` copies the images beside the data, else they are
        referred to by path (relative to ``media_root`` when given).
        """
        from crowdnb import formats

        if isinstance(options.get("workers"), (list, tuple)):
            options["workers"] = tuple(options["workers"])
        return formats.export(self, path, format, **options)

    def import_tasks(self, path: str | os.PathLike[str], format: str, *, as_: str = "prediction", **options: Any) -> Imported:
        """Add the tasks of a file in `format` (COCO, YOLO, VOC, Label Studio, JSONL, CSV,
        Parquet, ...) with their annotations as model pre-labels (``as_="prediction"``), known
        answers (``"answer"``) or not at all (``"tasks"``). Every row is checked first: a
        `ValidationError` names each bad row by file and line, and nothing is stored;
        ``dry_run=True`` only checks. See `crowdnb.formats.import_tasks` for the options."""
        from crowdnb import formats

        return formats.import_tasks(self, path, format, as_=as_, **options)

    def my_labels(self, worker: str | None = None) -> pd.DataFrame:
        """A worker's own labels (by default the current one's) with their review: task, label,
        status, reason, submitted_at, annotation_id."""
        return self.store.worker_labels(self.info.id, self.store.worker_id(worker or self.store.current_worker()))

    def results(self, method: Any = None, *, include_flagged: bool = False, store: bool = False, **params: Any) -> pd.DataFrame:
        """One answer per task: task, label, confidence, n_labels (in task order; a task without
        labels has label None and confidence NaN).

        `method` defaults to the kind's (Dawid-Skene for classification; see
        ``crowdnb.aggregation.methods.METHODS``), `params` go to it. Under dynamic overlap it
        defaults to ``"dynamic-overlap"``: each task's answer and confidence as decided (the
        posterior that stopped it, an inspector's answer at 1, else the posterior now). Labels of banned workers
        and rejected ones are left out, and so are flagged ones (e.g. too fast) unless
        `include_flagged`. Known answers are held fixed by Dawid-Skene; structured methods weigh
        workers by their skill (control answers, and agreement with confidently closed tasks)
        once any worker has answered a control task.

        `store=True` also keeps them as the project's last results, which `stored_results`
        (and dashboards and the server) read back without aggregating again.
        """
        return self.store.results(self.info.id, method, include_flagged=include_flagged, store=store, **params)

    def escalated(self) -> pd.DataFrame:
        """Tasks dynamic overlap sent to an inspector instead of closing them with a doubtful
        answer: task, votes (label: count), label (leading), confidence, n_labels."""
        return self.store.escalated(self.info.id)

    def resolve(self, task: str, label: Any) -> None:
        """Decide a task sent to an inspector: `label` becomes its result (confidence 1)."""
        self.store.resolve(self.info.id, task, label)

    def stored_results(self) -> pd.DataFrame:
        """The last results kept by ``results(store=True)``, in task order; ``attrs`` tell
        the method, its params, include_flagged, computed_at (UTC) and the labels counted.
        A task added since has no row. `NotFound` when none were stored."""
        return self.store.stored_results(self.info.id)

    def workers(self) -> pd.DataFrame:
        """Each worker's standing: worker, status (active, suspended, banned), control answers,
        correct ones, skill, agreement with confidently closed tasks, skips in a row, and the
        workers they are flagged as colluding with (under a policy's `collusion_z`)."""
        return self.store.worker_standing(self.info.id)

    def set_quality(self, policy: QualityPolicy | None) -> None:
        """Change the quality policy (None: no quality control); applies to what comes next."""
        self.store.set_quality(self.info.id, policy)
        self.info = self.store.project(self.name)

    def set_review(self, rate: float, window_seconds: int | None = None) -> None:
        """Send a share `rate` of new labels to inspectors; approve unreviewed ones after
        `window_seconds` (None: wait for an inspector)."""
        self.store.set_review(self.info.id, rate, window_seconds)
        self.info = self.store.project(self.name)

    def set_worker_status(self, worker: str, status: Status) -> None:
        """Suspend, ban or reinstate a worker by hand (a manager's decision)."""
        self.store.set_worker_status(self.info.id, self.store.worker_id(worker), status)

    def add_member(self, worker: str) -> None:
        """Let `worker` work on (or inspect) this project."""
        self.store.add_member(self.info.id, worker)

    def progress(self, worker: str | None = None) -> tuple[int, int]:
        """(tasks labeled by `worker`, all tasks)."""
        return self.store.progress(self.info.id, self.store.worker_id(worker or self.store.current_worker()))
