"""Single-choice classification of an image or a text."""

from __future__ import annotations

from typing import Any, ClassVar

from crowdnb.errors import LabelError
from crowdnb.kinds.base import Kind, Media


class Classification(Kind):
    """Pick exactly one class; keys 1..9 choose the first nine classes in the widget."""

    view: ClassVar[str] = "classify"

    def make_config(self, *, classes: list[str] | tuple[str, ...] | None = None, **options: Any) -> dict[str, Any]:
        if options:
            raise ValueError(f"{self.name}: unknown option(s) {sorted(options)}")
        if not classes:
            raise ValueError(f"{self.name}: `classes` must list at least one class")
        names = list(classes)
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{self.name}: class names must be non-empty strings, got {name!r}")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{self.name}: class names repeat: {repeated}")
        return {"classes": names}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> str:
        if label not in config["classes"]:
            raise LabelError(f"unknown class {label!r}; expected one of {config['classes']}")
        return str(label)


class ImageClass(Classification):
    name: ClassVar[str] = "image-class"
    media: ClassVar[Media] = "image"


class TextClass(Classification):
    name: ClassVar[str] = "text-class"
    media: ClassVar[Media] = "text"
