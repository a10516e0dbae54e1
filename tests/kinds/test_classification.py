"""The kind registry and the classification kinds."""

from __future__ import annotations

import pytest

from crowdnb import kinds
from crowdnb.errors import LabelError


def test_registry_knows_the_spine_kinds() -> None:
    assert {"image-class", "text-class"} <= set(kinds.names())
    assert kinds.get("image-class").media.column == "image"
    assert kinds.get("text-class").media.column == "text"
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


def test_every_kind_is_registered_with_a_view_and_media() -> None:
    assert set(kinds.names()) == {
        "image-class", "image-multilabel", "bbox", "polygon", "keypoints", "ocr", "caption",
        "text-class", "text-multilabel", "spans", "qa", "free-text",
    }
    for name in kinds.names():
        kind = kinds.get(name)
        assert kind.media.column in ("image", "text") and kind.view


def test_multilabel_keeps_class_order_and_refuses_repeats_or_empty() -> None:
    kind = kinds.get("text-multilabel")
    config = kind.make_config(classes=["spam", "rude", "ad"])
    assert kind.validate_label(["ad", "spam"], config, {}) == ["spam", "ad"]
    with pytest.raises(LabelError, match="repeated"):
        kind.validate_label(["ad", "ad"], config, {})
    with pytest.raises(LabelError, match="at least one"):
        kind.validate_label([], config, {})
    with pytest.raises(LabelError, match=r"label\[1\]: unknown class 'x'"):
        kind.validate_label(["ad", "x"], config, {})
    assert kind.validate_label([], kind.make_config(classes=["a"], allow_empty=True), {}) == []


def test_control_answers_match_the_same_class_or_set_of_classes() -> None:
    single, multi = kinds.get("image-class"), kinds.get("text-multilabel")
    config = {"classes": ["cat", "dog"], "allow_empty": True}
    assert single.matches("cat", "cat", config) and not single.matches("dog", "cat", config)
    assert multi.matches(["dog", "cat"], ["cat", "dog"], config)
    assert not multi.matches(["cat"], ["cat", "dog"], config)
    assert multi.matches([], [], config)


OPTIONS = {
    "image-class": {"classes": ["cat", "dog"]}, "text-class": {"classes": ["a"]},
    "image-multilabel": {"classes": ["a", "b"], "allow_empty": True}, "text-multilabel": {"classes": ["a"]},
    "bbox": {"classes": ["car"]}, "polygon": {"classes": ["road"]}, "keypoints": {"preset": "face"},
    "ocr": {"shape": "quad", "max_chars": 40}, "caption": {"min_chars": 3}, "free-text": {"max_chars": 80},
    "spans": {"classes": ["PER"], "allow_overlap": True}, "qa": {"min_turns": 2},
}


def test_every_kind_makes_its_configuration_again_from_its_options() -> None:
    assert sorted(OPTIONS) == kinds.names()
    for name, options in OPTIONS.items():
        kind = kinds.get(name)
        config = kind.make_config(**options)
        assert kind.make_config(**kind.options_of(config)) == config, name
