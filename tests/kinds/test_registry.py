"""The kind registry and the classification kinds."""

from __future__ import annotations

import pytest

from crowdnb import kinds
from crowdnb.errors import LabelError


def test_registry_knows_the_spine_kinds() -> None:
    assert {"image-class", "text-class"} <= set(kinds.names())
    assert kinds.get("image-class").media == "image"
    assert kinds.get("text-class").media == "text"
    with pytest.raises(ValueError, match="known kinds"):
        kinds.get("nope")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "at least one class"),
        ({"classes": []}, "at least one class"),
        ({"classes": ["a", "a"]}, "repeat"),
        ({"classes": ["a", ""]}, "non-empty"),
        ({"classes": ["a", 1]}, "non-empty"),
        ({"classes": ["a"], "colour": "red"}, "colour"),
    ],
)
def test_bad_class_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kinds.get("text-class").make_config(**options)


def test_labels_must_be_a_known_class() -> None:
    kind = kinds.get("image-class")
    config = kind.make_config(classes=["cat", "dog"])
    assert kind.validate_label("dog", config, {}) == "dog"
    for bad in ("bird", None, 1, ["cat"]):
        with pytest.raises(LabelError, match="unknown class"):
            kind.validate_label(bad, config, {})
