"""What a task kind is: its media, its label schema, its front-end view."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

Media = Literal["image", "text"]


class Kind(ABC):
    """A task kind, declared once: everything that differs between kinds lives in a subclass.

    A kind turns user options into a stored label configuration (`make_config`), checks and
    normalizes labels (`validate_label`, used by the widget's kernel side and again by the store),
    names the front-end view that draws its tasks, and the aggregation method that turns its
    labels into one answer per task.
    """

    name: ClassVar[str]
    media: ClassVar[Media]
    view: ClassVar[str]
    # The default method of `Project.results`: a name in crowdnb.aggregation.methods.METHODS.
    aggregator: ClassVar[str] = "dawid-skene"
    # Whether `validate_label` reads the task's payload (the store fetches it only then).
    label_uses_payload: ClassVar[bool] = True

    @abstractmethod
    def make_config(self, **options: Any) -> dict[str, Any]:
        """The project's label configuration from user options; raises ValueError on bad ones."""

    @abstractmethod
    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> Any:
        """The label as stored (JSON-ready) for a task with `payload` (e.g. the image size or the
        text, to check geometry and offsets); raises `LabelError` naming the bad value."""
