"""Task kinds and the registry that maps a kind's name to its definition."""

from __future__ import annotations

from crowdnb.kinds.base import Kind, Media
from crowdnb.kinds.classification import ImageClass, ImageMultilabel, TextClass, TextMultilabel
from crowdnb.kinds.geometry import OCR, BBox, Keypoints, Polygon
from crowdnb.kinds.text import QA, Caption, FreeText, Spans

_REGISTRY: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make `kind` available by its name to projects and stores."""
    _REGISTRY[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    """The kind called `name`; a ValueError lists the known kinds otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown task kind {name!r}; known kinds: {sorted(_REGISTRY)}") from None


def names() -> list[str]:
    """Names of all registered kinds."""
    return sorted(_REGISTRY)


for _kind in (
    ImageClass(), ImageMultilabel(), BBox(), Polygon(), Keypoints(), OCR(), Caption(),
    TextClass(), TextMultilabel(), Spans(), QA(), FreeText(),
):
    register(_kind)

__all__ = ["Kind", "Media", "get", "names", "register"]
