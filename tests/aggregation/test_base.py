"""Integer-coded answers: what estimators take (`Answers.checked`), what `compact` makes of codes
read elsewhere, `fit_answers` against `fit`, and the tally of distinct answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdnb.aggregation import (
    BinaryRelevance,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
)
from crowdnb.aggregation.base import Answers, Tally, encode, kernels
from crowdnb.aggregation.classification.dawid_skene import gold_codes

FRAME = pd.DataFrame(
    {"task": ["t2", "t1", "t1", "t3", "t3", "t3"], "worker": [9, 7, 8, 7, 8, 7], "label": ["y", "x", "y", "x", "x", "x"]}
)


def coded(**changes: object) -> Answers:
    """FRAME's answers, coded by hand (tasks t1..t3, workers 7, 8, 9, labels x, y)."""
    fields = {
        "task": np.array([1, 0, 0, 2, 2, 2]), "worker": np.array([2, 0, 1, 0, 1, 0]), "label": np.array([1, 0, 1, 0, 0, 0]),
        "tasks": pd.Index(["t1", "t2", "t3"]), "workers": pd.Index([7, 8, 9]), "labels": pd.Index(["x", "y"]),
    }
    return Answers(**{**fields, **changes})  # type: ignore[arg-type]


def test_encode_makes_what_checked_accepts() -> None:
    answers = encode(FRAME)
    assert answers.checked() is answers
    assert answers.task.dtype == np.int32
    assert list(answers.tasks) == ["t1", "t2", "t3"] and list(answers.labels) == ["x", "y"]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint16])
def test_codes_of_any_integer_width_give_fits_equal_to_the_frame(dtype: type) -> None:
    answers = coded(**{what: getattr(coded(), what).astype(dtype) for what in ("task", "worker", "label")})
    for make in (MajorityVote, Wawa, ZeroBasedSkill, DawidSkene, OneCoinDawidSkene):
        by_codes, by_frame = make().fit_answers(answers), make().fit(FRAME)
        pd.testing.assert_series_equal(by_codes.labels_, by_frame.labels_, check_index_type=False)
        np.testing.assert_array_equal(by_codes.probas_.to_numpy(), by_frame.probas_.to_numpy())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": np.array([1, 0, 1, 0, 0, 2])}, r"label code in row 5 is 2, outside 0\.\.1"),
        ({"task": np.array([1, 0, 0, 2, 2, -1])}, r"task code in row 5 is -1"),
        ({"worker": np.array([2, 0, 1, 0, 1])}, r"differ in length"),
        ({"label": np.array([1.0, 0, 1, 0, 0, 0])}, r"label codes must be a 1-D integer numpy array"),
        ({"tasks": pd.Index(["t1", "t2", "t3", "t4"])}, r"tasks include \['t4'\] that no answer uses.*compact"),
        ({"labels": pd.Index(["y", "x"])}, r"labels must be sorted"),
        ({"workers": pd.Index([7, 7, 9])}, r"workers repeat value\(s\) \[7\]"),
    ],
)
def test_bad_codes_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MajorityVote().fit_answers(coded(**changes))


def test_compact_drops_what_no_answer_uses_and_sorts_the_labels() -> None:
    # Label codes into an unsorted class list with an unused class; an extra task and worker.
    raw = coded(
        label=np.array([0, 2, 0, 2, 2, 2]), labels=pd.Index(["y", "z", "x"]),
        tasks=pd.Index(["t1", "t2", "t3", "t4"]), workers=pd.Index([7, 8, 9, 10]),
    )
    answers = raw.compact()
    assert list(answers.labels) == ["x", "y"] and list(answers.tasks) == ["t1", "t2", "t3"] and list(answers.workers) == [7, 8, 9]
    np.testing.assert_array_equal(answers.label, coded().label)
    pd.testing.assert_frame_equal(DawidSkene().fit_answers(answers).probas_, DawidSkene().fit(FRAME).probas_, check_index_type=False)


def test_gold_as_codes_equals_gold_as_a_series(simple: tuple[pd.DataFrame, pd.Series], simple_gold: pd.Series) -> None:
    data, _ = simple
    answers = encode(data)
    by_codes = DawidSkene().fit_answers(answers, gold=gold_codes(answers, simple_gold))
    pd.testing.assert_frame_equal(by_codes.probas_, DawidSkene().fit(data, simple_gold).probas_)
    task, _ = gold_codes(answers, simple_gold)
    with pytest.raises(ValueError, match="gold label code 9 is outside"):
        DawidSkene().fit_answers(answers, gold=(task, np.full(len(task), 9)))
    with pytest.raises(ValueError, match="two different labels"):
        DawidSkene().fit_answers(answers, gold=(np.array([task[0], task[0]]), np.array([0, 1])))


def test_binary_relevance_has_no_coded_entry_point() -> None:
    with pytest.raises(ValueError, match="sets of classes.*DataFrame"):
        BinaryRelevance().fit_answers(coded())


@pytest.mark.parametrize("path", ["numpy", "numba"])
def test_the_tally_counts_repeated_answers_once_for_accuracy(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROWDNB_KERNELS", path)
    answers = coded()
    tally = Tally(answers, kernels(answers.n_rows))
    # Worker 7 said x on t3 twice: one entry of count 2.
    assert tally.by_task.toarray()[2].tolist() == [2, 0, 1, 0, 0, 0]
    assert tally.repeated
    # Truth x, x, x: worker 7 was right on t1 and t3 (t3 once), worker 8 on t3, worker 9 never.
    np.testing.assert_allclose(tally.accuracy(np.array([0, 0, 0])), [1.0, 0.5, 0.0])
