"""What a labeling widget needs from the world: the `TaskSource` protocol and the `Item` it shows.

The widget never sees a store or SQL; a project (local store or, later, a server) hands it a
source, and any object with these methods works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crowdnb.errors import SourceUnavailable  # noqa: F401 (re-exported: the protocol raises it)

if TYPE_CHECKING:
    from crowdnb.client.sender import OutboxState


@dataclass(frozen=True)
class Item:
    """One task as the front end needs it: text and/or image bytes (or an image URL) with the
    image size, a model's pre-label if any, and metadata."""

    task_id: int
    external_id: str
    text: str | None = None
    image: bytes | None = None
    image_mime: str | None = None
    image_url: str | None = None
    width: int | None = None
    height: int | None = None
    prediction: Any = None
    notice: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class TaskSource(Protocol):
    """Hands out items and takes labels; `submit` returns only once the label is durable."""

    def fetch(self, n: int, exclude: Sequence[int]) -> list[Item]:
        """Up to `n` next items for this worker, none of the task ids in `exclude`; raises
        `SourceUnavailable` when it cannot be reached."""
        ...

    def submit(self, task_id: int, label: Any, annotation_id: str, duration_ms: int | None) -> None:
        """Store a label (idempotent per `annotation_id`); raises ValueError if it is invalid."""
        ...

    def skip(self, task_id: int) -> None:
        """Give the task back to the pool."""
        ...

    def progress(self) -> tuple[int, int]:
        """(labeled by this worker, total)."""
        ...

    def notices(self) -> list[str]:
        """New messages for the worker since this source's last call (e.g. labels a server
        refused after they had been queued), shown in the widget."""
        ...

    def delivery(self) -> OutboxState | None:
        """What happens to the labels `submit` took: sent, waiting, retrying, offline, signed out
        (an outbox's state); None when `submit` stores them for good at once."""
        ...
