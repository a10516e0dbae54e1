"""Label a project with someone else's widget: anything with ipyannotations' protocol.

The protocol (ipyannotations, superintendent): ``display(item)`` shows a task, ``on_submit(cb)``
calls ``cb(label)`` when the user submits (``None`` means skip), and optionally ``on_undo(cb)``
asks to go back. `PluginLabeler` drives such a widget over a `TaskSource` and adds progress.

ipyannotations 0.5.1 appends an ipyevents ``Event`` (a model without a view) to its visible
children; JupyterLab 4 and Voila cannot render that child ("Class null not found" / "Loading
widget..."), so it is taken out of the children. The event watcher keeps working: it listens on
its source widget, not through the widget tree.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets
from PIL import Image

from crowdnb.widgets.source import Item, TaskSource

HISTORY = 100


def default_input(item: Item) -> Any:
    """What to pass to ``display``: a PIL image for image tasks, else the text."""
    if item.image is not None:
        return Image.open(io.BytesIO(item.image))
    return item.image_url if item.text is None else item.text


class PluginLabeler(ipywidgets.VBox):
    """Runs `widget` over a task source, one item at a time.

    Parameters
    ----------
    source
        Where items come from and labels go.
    widget
        Any widget with ``display(item)`` and ``on_submit(callback)`` (and optionally ``on_undo``).
    to_input
        Turns an `Item` into what ``widget.display`` expects (default: `default_input`).
    to_label
        Turns the widget's submitted data into the project's label (default: unchanged).
    prefetch
        How many items to claim ahead.
    """

    def __init__(
        self,
        source: TaskSource,
        widget: Any,
        *,
        title: str = "",
        to_input: Callable[[Item], Any] = default_input,
        to_label: Callable[[Any], Any] = lambda data: data,
        prefetch: int = 5,
    ) -> None:
        self.progress = ipywidgets.IntProgress(min=0, layout={"flex": "1"})
        self.count = ipywidgets.Label()
        self.message = ipywidgets.Label()
        header = ipywidgets.HBox([ipywidgets.Label(title), self.progress, self.count])
        super().__init__([header, widget, self.message])
        self.widget = widget
        self._source = source
        self._to_input = to_input
        self._to_label = to_label
        self._prefetch = prefetch
        self._queue: list[Item] = []
        self._history: list[Item] = []
        self._pos = -1
        self._shown_at = time.monotonic()
        _drop_viewless_children(widget)
        if isinstance(widget, ipywidgets.Box):
            widget.observe(lambda _change: _drop_viewless_children(widget), names="children")
        widget.on_submit(self._submitted)
        if hasattr(widget, "on_undo"):
            widget.on_undo(self.back)
        self._update_progress()
        self._advance()

    @property
    def current(self) -> Item | None:
        """The item on screen, if any."""
        return self._history[self._pos] if 0 <= self._pos < len(self._history) else None

    def back(self) -> None:
        """Show the previous item again (its label can be changed)."""
        if self._pos > 0:
            self._pos -= 1
            self._show()

    def _submitted(self, data: Any) -> None:
        item = self.current
        if item is None:
            return
        if data is None:
            self._source.skip(item.task_id)
        else:
            duration = int((time.monotonic() - self._shown_at) * 1000)
            try:
                self._source.submit(item.task_id, self._to_label(data), uuid.uuid4().hex, duration)
            except ValueError as exc:
                self.message.value = str(exc)
                return
        self.message.value = ""
        self._update_progress()
        self._advance()

    def _advance(self) -> None:
        if self._pos < len(self._history) - 1:
            self._pos += 1
        else:
            if not self._queue:
                self._queue = self._source.fetch(self._prefetch + 1, [i.task_id for i in self._history])
            if self._queue:
                self._history = [*self._history[-HISTORY + 1 :], self._queue.pop(0)]
                self._pos = len(self._history) - 1
            else:
                self._pos = len(self._history)  # past the end: finished
        self._show()

    def _show(self) -> None:
        item = self.current
        if item is None:
            self.message.value = "All done: nothing left to label."
            return
        self.widget.display(self._to_input(item))
        self._shown_at = time.monotonic()

    def _update_progress(self) -> None:
        done, total = self._source.progress()
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.count.value = f"{done} / {total}"


def _drop_viewless_children(widget: Any) -> None:
    """Remove children that have no view (e.g. ipyevents.Event) from a box's visible tree."""
    children = getattr(widget, "children", ())
    visible = tuple(c for c in children if isinstance(c, ipywidgets.DOMWidget))
    if len(visible) != len(children):
        widget.children = visible
