"""Spans, Q&A dialogs, free text: offsets in code points, lengths and required fields."""

from __future__ import annotations

import pytest

from crowdnb import kinds
from crowdnb.errors import LabelError

TEXT = "서울역 앞 🍜 ラーメン屋 in Tokyo"


def _span(text: str, part: str, label: str) -> dict:
    start = text.index(part)
    return {"start": start, "end": start + len(part), "label": label}


def test_span_offsets_are_python_string_indices_even_with_emoji() -> None:
    kind = kinds.get("spans")
    config = kind.make_config(classes=["PLACE", "FOOD"])
    label = [_span(TEXT, "Tokyo", "PLACE"), _span(TEXT, "서울역", "PLACE"), _span(TEXT, "ラーメン", "FOOD")]
    stored = kind.validate_label(label, config, {"text": TEXT})
    assert [(s["text"], s["label"]) for s in stored] == [("서울역", "PLACE"), ("ラーメン", "FOOD"), ("Tokyo", "PLACE")]
    assert all(TEXT[s["start"] : s["end"]] == s["text"] for s in stored)


def test_spans_out_of_range_wrong_text_or_overlapping_are_refused() -> None:
    kind = kinds.get("spans")
    config = kind.make_config(classes=["PLACE"])
    with pytest.raises(LabelError, match="not inside the"):
        kind.validate_label([{"start": 3, "end": 99, "label": "PLACE"}], config, {"text": TEXT})
    with pytest.raises(LabelError, match="is not the text at"):
        kind.validate_label([{**_span(TEXT, "Tokyo", "PLACE"), "text": "Kyoto"}], config, {"text": TEXT})
    overlapping = [{"start": 0, "end": 3, "label": "PLACE"}, {"start": 2, "end": 5, "label": "PLACE"}]
    with pytest.raises(LabelError, match="overlap"):
        kind.validate_label(overlapping, config, {"text": TEXT})
    allowed = kind.make_config(classes=["PLACE"], allow_overlap=True)
    assert len(kind.validate_label(overlapping, allowed, {"text": TEXT})) == 2


def test_qa_turns_are_required_trimmed_and_limited() -> None:
    kind = kinds.get("qa")
    config = kind.make_config(min_turns=2, max_turns=3, max_answer_chars=20)
    turns = [{"question": " Where is the exit? ", "answer": "Turn left."}, {"question": "And the toilets?", "answer": "Upstairs."}]
    assert kind.validate_label({"turns": turns}, config, {}) == {
        "turns": [{"question": "Where is the exit?", "answer": "Turn left."}, {"question": "And the toilets?", "answer": "Upstairs."}]
    }
    with pytest.raises(LabelError, match="1 turn"):
        kind.validate_label({"turns": turns[:1]}, config, {})
    with pytest.raises(LabelError, match=r"turns\[1\].answer: must not be empty"):
        kind.validate_label({"turns": [turns[0], {"question": "q", "answer": ""}]}, config, {})
    with pytest.raises(LabelError, match=r"turns\[0\].answer: 21 characters, at most 20"):
        kind.validate_label({"turns": [{"question": "q", "answer": "x" * 21}, turns[1]]}, config, {})
    with pytest.raises(LabelError, match=r"turns\[1\].question: contains U\+0000 \(NUL\) at position 3, which cannot be stored"):
        kind.validate_label({"turns": [turns[0], {"question": "abc\x00", "answer": "a"}]}, config, {})
    with pytest.raises(ValueError, match="min_turns"):
        kind.make_config(min_turns=0)


def test_free_text_and_captions_respect_lengths() -> None:
    caption = kinds.get("caption")
    config = caption.make_config(min_chars=5, max_chars=30)
    assert caption.validate_label("  A cat on a sofa ", config, {}) == "A cat on a sofa"
    with pytest.raises(LabelError, match="at least 5"):
        caption.validate_label("cat", config, {})
    with pytest.raises(LabelError, match="at most 30"):
        caption.validate_label("x" * 31, config, {})
    with pytest.raises(LabelError, match=r"U\+0000 \(NUL\)"):  # no store can keep it
        caption.validate_label("A cat\x00 on a sofa", config, {})
    with pytest.raises(LabelError, match="lone surrogate U\\+D800 at position 3"):
        caption.validate_label("ok \ud800 then", config, {})


def test_control_spans_match_the_same_ranges_and_classes() -> None:
    kind = kinds.get("spans")
    config = kind.make_config(classes=["PLACE", "FOOD"])
    payload = {"text": TEXT}
    known = kind.validate_label([_span(TEXT, "서울역", "PLACE"), _span(TEXT, "ラーメン屋", "FOOD")], config, payload)
    same = kind.validate_label([_span(TEXT, "ラーメン屋", "FOOD"), _span(TEXT, "서울역", "PLACE")], config, payload)
    assert kind.matches(same, known, config)
    assert not kind.matches([known[0], {**known[1], "label": "PLACE"}], known, config)
    assert not kind.matches([known[0], {**known[1], "end": known[1]["end"] - 1}], known, config)
    assert not kind.matches(known[:1], known, config)


@pytest.mark.parametrize("name", ["free-text", "caption", "qa"])
def test_written_answers_take_no_known_answer(name: str) -> None:
    kind = kinds.get(name)
    with pytest.raises(LabelError, match="cannot be checked against a known answer"):
        kind.validate_answer("A cat on a sofa", kind.make_config(), {"text": "x"})
