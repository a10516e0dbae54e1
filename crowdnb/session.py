"""A `TaskSource` backed by a store: the glue between one worker's widget and the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crowdnb.media import read_image
from crowdnb.store import ProjectInfo, Store, Submission, Task
from crowdnb.widgets import Item


class StoreSource:
    """Hands one worker the tasks of one project and stores their labels."""

    def __init__(self, store: Store, project: ProjectInfo, worker_id: int) -> None:
        self.store = store
        self.project = project
        self.worker_id = worker_id

    def fetch(self, n: int, exclude: Sequence[int]) -> list[Item]:
        tasks = self.store.claim(self.project.id, self.worker_id, n, exclude=exclude)
        return [self._item(task) for task in tasks]

    def submit(self, task_id: int, label: Any, annotation_id: str, duration_ms: int | None) -> None:
        self.store.submit(self.project.id, self.worker_id, Submission(annotation_id, task_id, label, duration_ms))

    def skip(self, task_id: int) -> None:
        self.store.skip(self.project.id, self.worker_id, task_id)

    def progress(self) -> tuple[int, int]:
        return self.store.progress(self.project.id, self.worker_id)

    def notices(self) -> list[str]:
        return []  # a local store refuses a label at once, when it is submitted

    def _item(self, task: Task) -> Item:
        payload = task.payload
        common = {"prediction": payload.get("prediction"), "meta": task.meta, "text": payload.get("text")}
        if "image" in payload:
            data, mime = read_image(payload)
            return Item(
                task.id, task.external_id, image=data, image_mime=mime,
                width=payload.get("width"), height=payload.get("height"), **common,
            )
        return Item(task.id, task.external_id, image_url=payload.get("image_url"), **common)




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


def local_image(payload: dict[str, Any]) -> bytes | None:
    """A task image's bytes from the local disk, if the task has one."""
    return read_image(payload)[0] if "image" in payload else None
