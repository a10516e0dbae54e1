"""Every categorical estimator: true labels of the reference data, and properties that hold
for any input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdnb.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa, ZeroBasedSkill
from crowdnb.aggregation.base import ClassificationAggregator

ESTIMATORS = [MajorityVote, Wawa, ZeroBasedSkill, DawidSkene, OneCoinDawidSkene, GLAD, MACE]


@pytest.mark.parametrize("make", [DawidSkene, OneCoinDawidSkene, GLAD, MACE], ids=lambda c: c.__name__)
def test_recovers_the_toy_truth(make: type[ClassificationAggregator], toy: tuple[pd.DataFrame, pd.Series]) -> None:
    answers, truth = toy
    assert (make().fit_predict(answers).loc[truth.index] == truth).all()


def test_majority_vote_breaks_the_toy_tie_by_sorted_label(toy: tuple[pd.DataFrame, pd.Series]) -> None:
    answers, _ = toy
    mv = MajorityVote().fit(answers)
    assert mv.probas_.loc["t1"].tolist() == [0.5, 0.5]
    assert mv.labels_["t1"] == "no"


@pytest.mark.parametrize("make", [DawidSkene, GLAD, Wawa, ZeroBasedSkill], ids=lambda c: c.__name__)
def test_outvotes_the_parrot_spammer(make: type[ClassificationAggregator], simple: tuple[pd.DataFrame, pd.Series]) -> None:
    answers, truth = simple
    assert (make().fit_predict(answers).loc[truth.index] == truth).all()


@pytest.mark.parametrize("make", ESTIMATORS, ids=lambda c: c.__name__)
def test_one_worker_per_task_gives_that_workers_label(make: type[ClassificationAggregator]) -> None:
    rng = np.random.default_rng(1)
    answers = pd.DataFrame({"task": range(30), "worker": rng.integers(0, 4, 30), "label": rng.choice(["a", "b", "c"], 30)})
    labels = make().fit_predict(answers)
    assert labels.loc[answers["task"]].tolist() == answers["label"].tolist()


@pytest.mark.parametrize("make", ESTIMATORS, ids=lambda c: c.__name__)
def test_row_order_changes_nothing(make: type[ClassificationAggregator], simple: tuple[pd.DataFrame, pd.Series]) -> None:
    answers, _ = simple
    shuffled = answers.sample(frac=1, random_state=7)
    first, second = make().fit(answers), make().fit(shuffled)
    pd.testing.assert_series_equal(first.labels_, second.labels_)
    pd.testing.assert_frame_equal(first.probas_, second.probas_, atol=1e-9)


@pytest.mark.parametrize("make", ESTIMATORS, ids=lambda c: c.__name__)
def test_posteriors_are_distributions_over_the_given_labels(make: type[ClassificationAggregator], ds1979: pd.DataFrame) -> None:
    probas = make().fit_predict_proba(ds1979)
    assert list(probas.columns) == [1, 2, 3, 4]
    assert list(probas.index) == sorted(ds1979["task"].unique())
    np.testing.assert_allclose(probas.sum(axis=1), 1.0)


@pytest.mark.parametrize("make", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", [np.nan, None])
def test_missing_labels_are_named(make: type[ClassificationAggregator], bad: object) -> None:
    answers = pd.DataFrame({"task": ["t1", "t1", "t2"], "worker": ["a", "b", "a"], "label": ["x", bad, "y"]}, index=[10, 11, 12])
    with pytest.raises(ValueError, match=r"label is missing \(NaN/None\) in row 11"):
        make().fit(answers)


def test_unhashable_labels_and_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"label in row 1 is \['x'\]"):
        MajorityVote().fit(pd.DataFrame({"task": [1, 2], "worker": [1, 1], "label": ["x", ["x"]]}))
    with pytest.raises(ValueError, match=r"missing \['worker'\]"):
        DawidSkene().fit(pd.DataFrame({"task": [1], "label": ["x"]}))


def test_gold_labels_unknown_to_the_data_are_named(simple: tuple[pd.DataFrame, pd.Series]) -> None:
    answers, _ = simple
    with pytest.raises(ValueError, match=r"true_labels has label value\(s\) \['owl'\]"):
        DawidSkene().fit(answers, pd.Series({answers["task"][0]: "owl"}))


def test_weighted_majority_vote_needs_every_skill() -> None:
    answers = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"], "label": ["x", "y", "y"]})
    assert MajorityVote().fit_predict(answers, pd.Series({"a": 5.0, "b": 1.0, "c": 1.0}))[1] == "x"
    with pytest.raises(ValueError, match=r"no skill for worker\(s\) \['c'\]"):
        MajorityVote().fit(answers, pd.Series({"a": 5.0, "b": 1.0}))
    assert MajorityVote(default_skill=5.0, on_missing_skill="value").fit_predict(answers, pd.Series({"a": 5.0, "b": 1.0}))[1] == "y"
