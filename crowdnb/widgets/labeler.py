"""The labeling widget: an anywidget whose front end keeps the next items in the page.

The browser holds a queue of prefetched items (images as binary buffers, decoded ahead), so a
keypress shows the next item at once; the label travels to the kernel in the background and is
re-sent until the kernel acknowledges it as stored; a label the kernel refuses is answered with
a "rejected" message, and the page shows that item again. Over a server, "stored" means in the
outbox: the page asks for `delivery` (sent, waiting, retrying, offline, signed out, and what was
set aside) a moment after a label and then every 2 s until all is sent, and says it in words.
The front end is the ES modules in static/, bundled into the one module `_esm` needs by
`crowdnb.widgets.bundle`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from crowdnb.errors import CrowdnbError
from crowdnb.widgets.bundle import STATIC, front_end_module
from crowdnb.widgets.source import Item, SourceUnavailable, TaskSource

if TYPE_CHECKING:
    from crowdnb.client.sender import OutboxState

__all__ = ["Labeler", "front_end_module"]  # front_end_module: the bundled `_esm` (cached)

SubmitCallback = Callable[[dict[str, Any]], None]


class Labeler(anywidget.AnyWidget):
    """Shows a source's items one at a time and sends the worker's labels back to it.

    Parameters
    ----------
    source
        Where items come from and labels go (see `TaskSource`).
    view
        The front-end view that draws a task (e.g. ``"classify"``).
    config
        The project's label configuration (e.g. ``{"classes": [...]}``), sent to the view.
    prefetch
        How many items the page keeps ready ahead of the current one.
    title
        Shown above the task.
    """

    _esm = front_end_module()
    _css = STATIC / "labeler.css"

    view = traitlets.Unicode("classify").tag(sync=True)
    config = traitlets.Dict().tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    prefetch = traitlets.Int(5).tag(sync=True)
    done = traitlets.Int(0).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    delivery = traitlets.Dict().tag(sync=True)  # `describe_delivery` of the source's; {} without an outbox

    def __init__(
        self, source: TaskSource, *, view: str, config: dict[str, Any], prefetch: int = 5, title: str = ""
    ) -> None:
        super().__init__(view=view, config=config, prefetch=prefetch, title=title)
        self._source = source
        self._held: list[int] = []
        self._callbacks: list[SubmitCallback] = []
        self.done, self.total = source.progress()
        self.on_msg(self._on_message)

    def on_submit(self, callback: SubmitCallback) -> SubmitCallback:
        """Call `callback({"task": id, "label": label})` after each stored label; usable as a
        decorator."""
        self._callbacks.append(callback)
        return callback

    def _on_message(self, _widget: Any, content: dict[str, Any], _buffers: list[bytes]) -> None:
        handler = {
            "hello": self._hello,
            "fetch": self._fetch,
            "submit": self._submit,
            "skip": self._skip,
            "status": self._status,
        }.get(content.get("type", ""))
        if handler is not None:
            handler(content)

    def _hello(self, _content: dict[str, Any]) -> None:
        """A new page view starts with an empty queue: hand out from the start again."""
        self._held = []
        self._status({})
        self._fetch({"n": self.prefetch + 1})

    def _fetch(self, content: dict[str, Any]) -> None:
        try:
            items = self._source.fetch(int(content.get("n", 1)), self._held)
        except SourceUnavailable as exc:
            self.send({"type": "items", "items": [], "more": True, "offline": str(exc)})
            return
        self._held.extend(item.task_id for item in items)
        buffers = [item.image for item in items if item.image is not None]
        self.send({"type": "items", "items": [_describe(item) for item in items], "more": bool(items)}, buffers)

    def _submit(self, content: dict[str, Any]) -> None:
        annotation_id = str(content["id"])
        try:
            self._source.submit(
                int(content["task_id"]), content["label"], annotation_id, content.get("duration_ms")
            )
        except SourceUnavailable:
            return  # not stored, not refused: the page sends it again
        except (ValueError, CrowdnbError) as exc:  # refused for good (invalid, or e.g. the task is full)
            self.error = str(exc)
            self.send({"type": "rejected", "id": annotation_id, "message": str(exc)})
            return
        self.send({"type": "ack", "id": annotation_id})  # stored: the page may forget it now
        self.error = " · ".join(self._source.notices())
        self.done, self.total = self._source.progress()
        for callback in self._callbacks:
            callback({"task": content.get("external_id"), "label": content["label"]})

    def _skip(self, content: dict[str, Any]) -> None:
        self._source.skip(int(content["task_id"]))

    def _status(self, _content: dict[str, Any]) -> None:
        """The page asks what became of its labels: the delivery state, and new notices."""
        state = self._source.delivery()
        self.delivery = {} if state is None else describe_delivery(state)
        if notices := self._source.notices():
            self.error = " · ".join(notices)


def describe_delivery(state: OutboxState, now: datetime | None = None) -> dict[str, Any]:
    """An outbox's state as the page shows it (static/delivery.js): the next attempt as seconds
    from now, so the page counts down on its own clock."""
    now = now or datetime.now(UTC)
    return {
        "state": state.state,
        "waiting": state.waiting,
        "failed": state.failed,
        "last_failure": state.failures[-1] if state.failures else None,
        "last_error": state.last_error,
        "retrying_since": state.retrying_since.isoformat() if state.retrying_since else None,
        "next_attempt_in": None if state.next_attempt_at is None else round(max(0.0, (state.next_attempt_at - now).total_seconds()), 1),
    }


def _describe(item: Item) -> dict[str, Any]:
    """The JSON part of an item; its image bytes travel as a separate binary buffer."""
    return {
        "task_id": item.task_id,
        "external_id": item.external_id,
        "text": item.text,
        "has_image": item.image is not None,
        "image_mime": item.image_mime,
        "image_url": item.image_url,
        "width": item.width,
        "height": item.height,
        "prediction": item.prediction,
        "notice": item.notice,
        "meta": item.meta,
    }
