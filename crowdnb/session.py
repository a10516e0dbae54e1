"""The glue between one person's widget and a store (local or over HTTP): a `TaskSource` for a
worker, a `ReviewSource` for an inspector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crowdnb.store import ProjectInfo, Store, Submission, Task
from crowdnb.widgets.source import Item

if TYPE_CHECKING:
    from crowdnb.client.sender import OutboxState


class StoreSource:
    """Hands one worker the tasks of one project and stores their labels."""

    def __init__(self, store: Store, project: ProjectInfo, worker_id: int) -> None:
        self.store = store
        self.project = project
        self.worker_id = worker_id
        self._told = 0  # of the project's failures in `delivery()`: each source tells them once

    def fetch(self, n: int, exclude: Sequence[int]) -> list[Item]:
        tasks = self.store.claim(self.project.id, self.worker_id, n, exclude=list(exclude)[-1000:])
        return [self._item(task) for task in tasks]

    def submit(self, task_id: int, label: Any, annotation_id: str, duration_ms: int | None) -> None:
        self.store.submit(self.project.id, self.worker_id, Submission(annotation_id, task_id, label, duration_ms))

    def skip(self, task_id: int) -> None:
        self.store.skip(self.project.id, self.worker_id, task_id)

    def progress(self) -> tuple[int, int]:
        return self.store.progress(self.project.id, self.worker_id)

    def notices(self) -> list[str]:
        state = self.delivery()
        if state is None:
            return self.store.notices()
        new = state.failures[self._told :]
        self._told += len(new)
        return [f"not stored: {reason}" for reason in new]

    def delivery(self) -> OutboxState | None:
        outbox_state = getattr(self.store, "outbox_state", None)  # a store with an outbox (HttpStore)
        return None if outbox_state is None else outbox_state(self.project.id)

    def _item(self, task: Task) -> Item:
        payload = task.payload
        image = self.store.media(self.project.id, payload)
        return Item(
            task.id, task.external_id, text=payload.get("text"),
            image=image[0] if image else None, image_mime=image[1] if image else None,
            image_url=None if image else payload.get("image_url"),
            width=payload.get("width"), height=payload.get("height"),
            prediction=payload.get("prediction"), notice=task.rework, meta=task.meta,
        )


class StoreReviews:
    """Hands one inspector the labels of one project that wait for inspection."""

    def __init__(self, store: Store, project: ProjectInfo, inspector_id: int) -> None:
        self.store = store
        self.project = project
        self.inspector_id = inspector_id

    def claim_reviews(self, n: int = 10) -> list[dict[str, Any]]:
        return self.store.claim_reviews(self.project.id, self.inspector_id, n)

    def decide(self, annotation_id: str, decision: str, reason: str = "") -> None:
        self.store.decide(self.project.id, self.inspector_id, annotation_id, decision, reason)
