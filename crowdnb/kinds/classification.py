"""Classification of an image or a text: one class, or any number of classes (multi-label)."""

from __future__ import annotations

from typing import Any, ClassVar

from crowdnb.aggregation.classification import BinaryRelevance
from crowdnb.aggregation.methods import Estimator
from crowdnb.errors import LabelError
from crowdnb.kinds.base import Kind
from crowdnb.kinds.checks import class_list, flag, items, known_class, no_options
from crowdnb.media import IMAGE, TEXT, Media


class Classification(Kind):
    """Pick exactly one class; keys 1..9 choose the first nine classes in the widget."""

    view: ClassVar[str] = "classify"
    label_uses_payload: ClassVar[bool] = False

    def make_config(self, *, classes: Any = None, **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        return {"classes": class_list(self.name, classes)}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> str:
        return known_class(label, config)


class ImageClass(Classification):
    name: ClassVar[str] = "image-class"
    media: ClassVar[Media] = IMAGE


class TextClass(Classification):
    name: ClassVar[str] = "text-class"
    media: ClassVar[Media] = TEXT


class Multilabel(Kind):
    """Pick every class that applies (keys 1..9 toggle); `allow_empty` permits choosing none."""

    aggregator: ClassVar[Estimator] = BinaryRelevance

    view: ClassVar[str] = "multiselect"
    label_uses_payload: ClassVar[bool] = False

    def make_config(self, *, classes: Any = None, allow_empty: bool = False, **options: Any) -> dict[str, Any]:
        no_options(self.name, options)
        return {"classes": class_list(self.name, classes), "allow_empty": flag(allow_empty, f"{self.name}: allow_empty")}

    def validate_label(self, label: Any, config: dict[str, Any], payload: dict[str, Any]) -> list[str]:
        chosen = [known_class(v, config, f"label[{i}]") for i, v in enumerate(items(label, "label"))]
        if len(set(chosen)) != len(chosen):
            raise LabelError(f"label: a class is repeated in {chosen}")
        if not chosen and not config["allow_empty"]:
            raise LabelError("label: choose at least one class")
        return [c for c in config["classes"] if c in chosen]

    def matches(self, label: Any, known: Any, config: dict[str, Any]) -> bool:
        """The same set of classes."""
        return set(label) == set(known)


class ImageMultilabel(Multilabel):
    name: ClassVar[str] = "image-multilabel"
    media: ClassVar[Media] = IMAGE


class TextMultilabel(Multilabel):
    name: ClassVar[str] = "text-multilabel"
    media: ClassVar[Media] = TEXT
