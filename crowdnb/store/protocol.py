"""The store interface: every call that `Project`, the widgets and the server make of a store.

Two implementations: `SqlStore` (SQLite or PostgreSQL, `crowdnb.store.sql`) and `HttpStore` (a
crowdnb server, `crowdnb.client`), so moving from a local file to a shared server changes one
argument. Projects are named by id, workers by id; over HTTP the token decides who the worker is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from crowdnb.store.types import ProjectInfo, Receipt, Submission, Task

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.errors import CrowdnbError
    from crowdnb.quality.rules import QualityPolicy, Status


@runtime_checkable
class Store(Protocol):
    """A label store: projects and their tasks, hand-out with leases, durable idempotent
    labels, inspection, quality control, aggregated results and points."""

    def project_names(self) -> list[str]:
        """Names of the projects the caller may see, oldest first."""
        ...

    def project(self, name: str) -> ProjectInfo:
        """The project called `name`; `NotFound` otherwise."""
        ...

    def create_project(
        self, name: str, kind: str, config: dict[str, Any], *, overlap: int = 1, price: int = 0,
        lease_seconds: int = 600, quality: QualityPolicy | None = None, review_rate: float = 0.0, review_window_seconds: int | None = None,
    ) -> ProjectInfo:
        """Create a project with a validated label `config`; `Conflict` if the name is taken."""
        ...

    def set_quality(self, project_id: int, policy: QualityPolicy | None) -> None:
        """Set the project's quality policy (None: no quality control)."""
        ...

    def set_review(self, project_id: int, rate: float, window_seconds: int | None = None) -> None:
        """Send a share `rate` of new labels to inspectors; auto-approve after `window_seconds`."""
        ...

    def add_tasks(
        self, project_id: int, frame: pd.DataFrame, *, on_duplicate: str = "error",
        progress: Callable[[str, int], None] | None = None,
    ) -> int:
        """Validate and add one task per row, all or nothing; returns how many were added."""
        ...

    def tasks(self, project_id: int) -> pd.DataFrame:
        """All tasks in order: id, payload, meta, known_answer, priority, n_labels, overlap."""
        ...

    def count_tasks(self, project_id: int) -> int:
        """Number of tasks in a project."""
        ...

    def media(self, project_id: int, payload: dict[str, Any]) -> tuple[bytes, str] | None:
        """What the widget shows of a task beyond its text (an image's bytes and MIME type)."""
        ...

    def current_worker(self) -> str:
        """Who labels when nobody says (a local user; over HTTP, the token's worker)."""
        ...

    def worker_id(self, name: str, role: str = "worker") -> int:
        """The id of worker `name` (registered with `role` on first use where the store may)."""
        ...

    def add_member(self, project_id: int, worker: str) -> None:
        """Let worker `worker` work on (or inspect) a project; adding twice is harmless."""
        ...

    def worker_standing(self, project_id: int) -> pd.DataFrame:
        """Each worker's standing: worker, status, n_control, n_correct, skill, ..."""
        ...

    def set_worker_status(self, project_id: int, worker_id: int, status: Status) -> None:
        """Suspend, ban or reinstate a worker by hand."""
        ...

    def claim(self, project_id: int, worker_id: int, n: int, *, exclude: Iterable[int] = ()) -> list[Task]:
        """Lease up to `n` tasks to a worker; the leases of `exclude` are renewed."""
        ...

    def renew(self, project_id: int, worker_id: int, task_ids: Sequence[int]) -> int:
        """Extend a worker's leases; returns how many."""
        ...

    def skip(self, project_id: int, worker_id: int, task_id: int) -> None:
        """Give a task back: it goes to other workers."""
        ...

    def progress(self, project_id: int, worker_id: int) -> tuple[int, int]:
        """(tasks this worker has labeled, tasks in the project)."""
        ...

    def submit(self, project_id: int, worker_id: int, submission: Submission) -> Receipt:
        """Store a label durably (idempotent per annotation id); `LabelError` if invalid."""
        ...

    def submit_many(self, project_id: int, worker_id: int, submissions: Sequence[Submission]) -> list[Receipt | CrowdnbError]:
        """Store labels, each as `submit` would: its receipt or the error that refused it."""
        ...

    def notices(self) -> list[str]:
        """Messages since the last call about labels refused after they were acknowledged
        (over HTTP: queued labels the server refused); empty for a local store."""
        ...

    def labels(self, project_id: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Current labels in task order, then time: task, worker, label, submitted_at,
        duration_ms, status, annotation_id, flag, prediction_accepted (or only `columns`)."""
        ...

    def label_batches(
        self, project_id: int, columns: Sequence[str] | None = None, *, tasks_per_batch: int = 50_000
    ) -> Iterator[pd.DataFrame]:
        """`labels` in pieces of `tasks_per_batch` tasks, for exports in bounded memory."""
        ...

    def worker_labels(self, project_id: int, worker_id: int) -> pd.DataFrame:
        """A worker's own labels with their review: task, label, status, reason, submitted_at."""
        ...

    def results(
        self, project_id: int, method: str | None = None, *, include_flagged: bool = False, store: bool = False,
        **params: Any,
    ) -> pd.DataFrame:
        """One answer per task: task, label, confidence, n_labels (see `Project.results`);
        `store` keeps them as the project's last results."""
        ...

    def stored_results(self, project_id: int) -> pd.DataFrame:
        """The last results kept by `results(store=True)`, with how and when in `attrs`."""
        ...

    def escalated(self, project_id: int) -> pd.DataFrame:
        """Tasks that dynamic overlap sent to an inspector: task, votes, label, confidence, n_labels."""
        ...

    def resolve(self, project_id: int, task: str, label: Any) -> None:
        """An inspector decides a task sent to them: `label` becomes its result."""
        ...

    def claim_reviews(self, project_id: int, inspector_id: int, n: int) -> list[dict[str, Any]]:
        """Lease labels awaiting inspection: annotation_id, task_id, external_id, payload, label."""
        ...

    def decide(self, project_id: int, inspector_id: int, annotation_id: str, decision: str, reason: str = "") -> None:
        """Approve or reject (with a reason) a label."""
        ...

    def balance(self, worker_id: int) -> int:
        """A worker's points."""
        ...

    def payouts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Points earned per worker in [start, end): worker, points, entries."""
        ...

    def close(self) -> None:
        """Release connections (and, over HTTP, stop the outbox sender)."""
        ...
