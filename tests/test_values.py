"""The rule for storable values: every flaw named by its path, the fast check agreeing with it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from crowdnb import values


def nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"turns": [{"question": "q", "answer": "a"}, {"answer": "ab\x00c"}]},
         "label.turns[1].answer: contains U+0000 (NUL) at position 2, which cannot be stored"),
        ("ok \ud800", "label: contains a lone surrogate U+D800 at position 3, which is not UTF-8 text and cannot be stored"),
        ({"k\x00": 1}, "label['k\\x00']: the key contains U+0000 (NUL) at position 1, which cannot be stored"),
        ({"my col": ["x", "\udfff"]}, ("label['my col'][1]: contains a lone surrogate U+DFFF at position 0, "
                                        "which is not UTF-8 text and cannot be stored")),
        ([1.5, float("nan")], "label[1]: is nan, which JSON cannot hold"),
        ({"x": -float("inf")}, "label.x: is -inf, which JSON cannot hold"),
        (nested(values.MAX_DEPTH + 1), "label" + "[0]" * values.MAX_DEPTH + ": is nested more than 32 levels deep"),
        (np.float64("nan"), "label: is nan, which JSON cannot hold"),
        (np.str_("a\x00"), "label: contains U+0000 (NUL) at position 1, which cannot be stored"),
        (("tuple", "\x00"), "label[1]: contains U+0000 (NUL) at position 0, which cannot be stored"),
    ],
)
def test_flaws_name_their_place(value: object, expected: str) -> None:
    assert not values.storable(value)
    assert [str(f) for f in values.flaws(value, "label")] == [expected]
    with pytest.raises(ValueError, match="^" + re.escape(expected) + "$"):
        values.refuse(value, "label")


@pytest.mark.parametrize(
    "value",
    [None, True, 0, 2**70, -1.5, "", "plain", "emoji \U0001f600 and é", {"a": [1, {"b": None}]}, nested(values.MAX_DEPTH), {3: "x"}],
)
def test_storable_values_pass(value: object) -> None:
    assert values.storable(value) and values.flaws(value, "x") == []
    values.refuse(value, "x")


def test_every_flaw_is_listed_up_to_a_limit() -> None:
    found = values.flaws({"a": "\x00", "b": ["\x00", 1.0, float("nan")]})
    assert [str(f) for f in found] == [
        "a: contains U+0000 (NUL) at position 0, which cannot be stored",
        "b[0]: contains U+0000 (NUL) at position 0, which cannot be stored",
        "b[2]: is nan, which JSON cannot hold",
    ]
    assert len(values.flaws(["\x00"] * 1000)) == values.MAX_FLAWS
    with pytest.raises(ValueError, match=r"\(and 99\+ more\)$"):
        values.refuse(["\x00"] * 1000, "rows")


def test_strings_false_still_checks_depth_and_numbers() -> None:
    assert values.storable({"a": "\x00"}, strings=False)
    assert not values.storable({"a": float("inf")}, strings=False)
    assert not values.storable(nested(values.MAX_DEPTH + 1), strings=False)
