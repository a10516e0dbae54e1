"""The inspector's widget: one label at a time with its task; approve, or reject with a reason.

Built from plain ipywidgets: task text and labels are shown in read-only text fields (never as
HTML), images in an Image widget with their original bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import ipywidgets


class ReviewSource(Protocol):
    """Hands out labels to inspect and records decisions."""

    def claim_reviews(self, n: int = 10) -> list[dict[str, Any]]:
        """Labels awaiting inspection: annotation_id, external_id, payload, label."""
        ...

    def decide(self, annotation_id: str, decision: str, reason: str = "") -> None:
        """Approve or reject (with a reason) a label."""
        ...


class Inspector(ipywidgets.VBox):
    """Review labels one by one. `image_bytes(payload)` fetches a task's image, if it has one."""

    def __init__(self, source: ReviewSource, *, image_bytes: Callable[[dict[str, Any]], bytes | None] = lambda p: None) -> None:
        self.task = ipywidgets.Label()
        self.image = ipywidgets.Image(layout={"max_width": "100%", "max_height": "50vh"})
        self.text = ipywidgets.Textarea(disabled=True, layout={"width": "100%", "height": "6em"})
        self.label = ipywidgets.Textarea(disabled=True, description="label", layout={"width": "100%", "height": "8em"})
        self.reason = ipywidgets.Text(placeholder="reason (required to reject)", layout={"width": "100%"})
        self.approve = ipywidgets.Button(description="Approve", button_style="success", icon="check")
        self.reject = ipywidgets.Button(description="Reject", button_style="danger", icon="times")
        self.message = ipywidgets.Label()
        self.approve.on_click(lambda _b: self.decide("approved"))
        self.reject.on_click(lambda _b: self.decide("rejected"))
        super().__init__([self.task, self.image, self.text, self.label, self.reason,
                          ipywidgets.HBox([self.approve, self.reject]), self.message])
        self._source = source
        self._image_bytes = image_bytes
        self._queue: list[dict[str, Any]] = []
        self.current: dict[str, Any] | None = None
        self._next()

    def decide(self, decision: str) -> None:
        """Record a decision on the label shown, then show the next one."""
        if self.current is None:
            return
        if decision == "rejected" and not self.reason.value.strip():
            self.message.value = "Write the reason the worker will see, then reject."
            return
        try:
            self._source.decide(self.current["annotation_id"], decision, self.reason.value.strip())
        except (ValueError, LookupError, PermissionError) as exc:
            self.message.value = str(exc)
            return
        self.message.value = f"{decision}: {self.current['external_id']}"
        self._next()

    def _next(self) -> None:
        if not self._queue:
            self._queue = self._source.claim_reviews(10)
        self.current = self._queue.pop(0) if self._queue else None
        self.reason.value = ""
        if self.current is None:
            self.task.value = "Nothing to inspect right now."
            self.image.layout.display = self.text.layout.display = self.label.layout.display = "none"
            return
        payload = self.current["payload"]
        self.task.value = f"task {self.current['external_id']}"
        picture = self._image_bytes(payload)
        self.image.value = picture or b""
        self.image.layout.display = None if picture else "none"
        self.text.value = payload.get("text") or ""
        self.text.layout.display = None if payload.get("text") else "none"
        self.label.value = json.dumps(self.current["label"], ensure_ascii=False, indent=1)
        self.label.layout.display = None
