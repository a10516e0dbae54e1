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


