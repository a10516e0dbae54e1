"""Drive a labeler's kernel side with the exact messages its front end sends (no browser)."""

from __future__ import annotations

from typing import Any

import crowdnb
from crowdnb.widgets import Labeler


class Recorded(Labeler):
    """A labeler that keeps what it sends to the page (there is no page in these tests)."""

    def send(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        self.__dict__.setdefault("outbox", []).append((content, buffers or []))


def messages(widget: Labeler, kind: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    return [m for m in widget.__dict__.get("outbox", []) if m[0]["type"] == kind]


def widget_for(project: crowdnb.Project, worker: str = "ana", prefetch: int = 2) -> Recorded:
    base = project.annotate(worker=worker, prefetch=prefetch)
    widget = Recorded(base._source, view=base.view, config=base.config, prefetch=prefetch)
    base.close()
    return widget


def send(widget: Labeler, content: dict[str, Any]) -> None:
    widget._on_message(widget, content, [])
