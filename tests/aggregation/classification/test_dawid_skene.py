"""Dawid-Skene: the fixed point on the 1979 data, gold, and the fitted parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdnb.aggregation import DawidSkene, OneCoinDawidSkene

# Dawid & Skene (1979), Table 1: the most likely class of each of the 45 patients at the fixed point.
FIXED_POINT_LABELS = [
    1, 4, 2, 2, 2, 2, 1, 3, 2, 2, 4, 3, 1, 2, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 2, 1, 1, 1, 1, 3, 1, 2, 2,
    4, 2, 3, 3, 1, 1, 1, 2, 1, 2,
]


def test_default_stopping_rule_reaches_the_fixed_point_on_the_1979_data(ds1979: pd.DataFrame) -> None:
    fixed_point = DawidSkene(n_iter=5_000, tol=0).fit(ds1979)
    fitted = DawidSkene().fit(ds1979)
    assert fitted.n_iter_ < 100  # it stopped by the rule, not by the budget
    np.testing.assert_allclose(fitted.probas_, fixed_point.probas_, atol=1e-7)
    np.testing.assert_allclose(fitted.errors_, fixed_point.errors_, atol=1e-6)
    assert fitted.labels_.tolist() == FIXED_POINT_LABELS
    # At the fixed point one more iteration changes nothing.
    again = DawidSkene(n_iter=fixed_point.n_iter_ + 1, tol=0).fit(ds1979)
    np.testing.assert_allclose(again.probas_, fixed_point.probas_, atol=1e-12)


def test_evidence_lower_bound_never_decreases(ds1979: pd.DataFrame) -> None:
    history = np.array(DawidSkene(n_iter=60, tol=0).fit(ds1979).loss_history_)
    assert (np.diff(history) >= -1e-12).all()


def test_confusion_matrices_and_priors_are_distributions(ds1979: pd.DataFrame) -> None:
    ds = DawidSkene().fit(ds1979)
    np.testing.assert_allclose(ds.priors_.sum(), 1.0)
    np.testing.assert_allclose(ds.errors_.groupby(level="worker").sum(), 1.0)
    # Observer 1 rated every patient three times: their matrix rests on 135 answers.
    assert set(ds.errors_.loc[1].index) == {1, 2, 3, 4}


def test_gold_labels_stay_fixed(simple: tuple[pd.DataFrame, pd.Series], simple_gold: pd.Series) -> None:
    answers, _ = simple
    ds = DawidSkene().fit(answers, simple_gold)
    for task, label in simple_gold.items():
        assert ds.labels_[task] == label
        assert ds.probas_.loc[task, label] == 1.0


def test_one_coin_skills_rank_the_parrot_spammer_last(simple: tuple[pd.DataFrame, pd.Series]) -> None:
    answers, _ = simple
    skills = OneCoinDawidSkene().fit(answers).skills_
    always_parrot = answers.groupby("worker")["label"].agg(lambda s: set(s) == {"parrot"})
    assert always_parrot[skills.idxmin()]
    assert skills.between(0, 1).all()
