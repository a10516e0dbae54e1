"""ROVER (words and CJK characters), OCR regions, spans and free-text picks."""

from __future__ import annotations

import pandas as pd
import pytest

from crowdnb.aggregation.text import ROVER, BestCandidate, OCRAggregator, SpanAggregator


def _answers(labels: list[object], task: str = "t") -> pd.DataFrame:
    return pd.DataFrame({"task": task, "worker": [f"w{i}" for i in range(len(labels))], "label": labels})


def test_rover_votes_word_by_word() -> None:
    texts = ["the quick brown fox", "the quick brown box", "a quick brown fox jumps", "the quick fox"]
    agg = ROVER().fit(_answers(texts))
    assert agg.labels_["t"] == "the quick brown fox"
    assert 0.5 < agg.confidence_["t"] < 1


def test_rover_votes_characters_for_cjk() -> None:
    assert ROVER().fit_predict(_answers(["东京大学", "东京大字", "东京大学"]))["t"] == "东京大学"


def test_rover_keeps_a_single_text_and_identical_texts_are_certain() -> None:
    agg = ROVER().fit(_answers(["only one"]))
    assert agg.labels_["t"] == "only one" and agg.confidence_["t"] == 1.0


def test_ocr_regions_are_matched_then_transcribed() -> None:
    def region(x: float, text: str) -> dict[str, object]:
        return {"box": {"x": x, "y": 0, "w": 50, "h": 10}, "text": text}

    answers = _answers([[region(0, "EXIT 12"), region(200, "stop")], [region(2, "EXIT 12")], [region(1, "EXIT 17")]])
    [out] = OCRAggregator().fit_predict(answers)["t"]
    assert out["text"] == "EXIT 12" and out["n_workers"] == 3
    assert out["box"]["x"] == pytest.approx(1)


def test_spans_vote_per_character() -> None:
    def span(start: int, end: int, label: str = "PER") -> dict[str, object]:
        return {"start": start, "end": end, "label": label}

    answers = _answers([[span(0, 5)], [span(0, 5), span(10, 14, "LOC")], [span(0, 4)]])
    agg = SpanAggregator().fit(answers)
    assert [(s["start"], s["end"], s["label"]) for s in agg.labels_["t"]] == [(0, 5, "PER")]
    assert agg.labels_["t"][0]["agreement"] == pytest.approx((4 * 1 + 2 / 3) / 5)
    assert "text" not in agg.labels_["t"][0]  # the labels quote no text


def test_fused_spans_quote_the_text_the_workers_marked() -> None:
    text = "Ada went to 東京 by 🚄"

    def span(start: int, end: int, label: str) -> dict[str, object]:
        return {"start": start, "end": end, "label": label, "text": text[start:end]}

    answers = _answers([[span(0, 3, "PER"), span(12, 14, "LOC")], [span(0, 3, "PER"), span(12, 14, "LOC")], [span(0, 2, "PER")]])
    fused = SpanAggregator().fit_predict(answers)["t"]
    assert [(s["start"], s["end"], s["text"]) for s in fused] == [(0, 3, "Ada"), (12, 14, "東京")]


def test_best_candidate_is_the_one_most_like_the_others() -> None:
    answers = _answers(["A cat sits on a mat.", "a cat sitting on the mat", "Dogs bark.", "A cat sits on the mat"])
    agg = BestCandidate().fit(answers)
    assert agg.labels_["t"] == "A cat sits on the mat"
    scores = agg.candidates_.set_index("worker")["score"]
    assert scores["w2"] == scores.min()
    assert list(agg.candidates_.columns) == ["task", "worker", "label", "score"]


def test_best_candidate_reads_dialogs() -> None:
    turn = {"turns": [{"question": "Hi?", "answer": "Hello."}]}
    assert BestCandidate().fit_predict(_answers([turn, turn]))["t"] == turn


def test_missing_text_is_named() -> None:
    with pytest.raises(ValueError, match="label is missing"):
        ROVER().fit(_answers(["a", None]))
