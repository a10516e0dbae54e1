"""The crowd model: confusion matrices with a one-coin prior, class prior, easy or hard tasks."""

from __future__ import annotations

import numpy as np
import pytest

from crowdnb.quality import model


def test_one_coin_posterior_without_difficulty_is_the_textbook_one() -> None:
    prior = np.full(3, 1 / 3)
    two = np.array([model.one_coin(0.9, 3)] * 2)
    assert model.posterior([], two[:0], prior, 0.0, 0.5).confidence == pytest.approx(1 / 3)
    agree = model.posterior([0, 0], two, prior, 0.0, 0.5)
    assert agree.best == 0 and agree.confidence == pytest.approx(0.81 / (0.81 + 2 * 0.05**2))
    split = model.posterior([2, 1], np.array([model.one_coin(0.9, 3), model.one_coin(0.95, 3)]), prior, 0.0, 0.5)
    assert split.best == 1


def test_a_confusion_row_leans_on_answers_as_they_come() -> None:
    counts = np.zeros((3, 3))
    assert np.allclose(model.confusion(counts, 0.8, 5.0), model.one_coin(0.8, 3))
    counts[1, 2] = 45  # always answers 2 where the truth is 1
    matrix = model.confusion(counts, 0.8, 5.0)
    assert matrix[1, 2] == pytest.approx((45 + 5 * 0.1) / 50)
    assert np.allclose(matrix[0], model.one_coin(0.8, 3)[0]) and np.allclose(matrix.sum(axis=1), 1)


def test_a_confusable_pair_needs_more_than_agreement_on_it() -> None:
    """Workers who often answer b for a: two b labels say less than two a labels."""
    matrix = model.one_coin(0.9, 3)
    matrix[0] = [0.6, 0.35, 0.05]
    matrices = np.array([matrix, matrix])
    prior = np.full(3, 1 / 3)
    assert model.posterior([1, 1], matrices, prior, 0.0, 0.5).confidence < model.posterior([0, 0], matrices, prior, 0.0, 0.5).confidence


def test_the_class_prior_moves_a_split_task() -> None:
    matrices = np.array([model.one_coin(0.8, 3)] * 2)
    prior = model.class_prior(np.array([98, 0, 0]))
    assert model.posterior([0, 1], matrices, prior, 0.0, 0.5).best == 0
    assert model.posterior([1, 0], matrices, model.class_prior(np.array([0, 98, 0])), 0.0, 0.5).best == 1


def test_disagreement_among_good_workers_makes_a_task_look_hard() -> None:
    good = np.array([model.one_coin(0.95, 5)] * 4)
    prior = np.full(5, 0.2)
    agreeing = model.posterior([0, 0, 0, 0], good, prior, 0.2, 0.5)
    split = model.posterior([0, 1, 0, 1], good, prior, 0.2, 0.5)
    assert agreeing.p_hard < 0.2 < split.p_hard
    # The hard share makes three agreeing labels less conclusive than the one-coin model says.
    easy_only = model.posterior([0, 0, 0], good[:3], prior, 0.0, 0.5).confidence
    assert model.posterior([0, 0, 0], good[:3], prior, 0.2, 0.5).confidence < easy_only


def test_information_is_zero_for_random_and_constant_answers() -> None:
    prior = np.full(5, 0.2)
    assert model.information(np.full((5, 5), 0.2), prior) == pytest.approx(0, abs=1e-9)
    constant = np.zeros((5, 5))
    constant[:, 3] = 1
    assert model.information(constant, prior) == pytest.approx(0, abs=1e-6)
    assert model.information(model.one_coin(0.6, 5), prior) == pytest.approx(0.551, abs=1e-3)
    assert model.information(np.eye(5), prior) == pytest.approx(np.log2(5))
    # A constant answer that happens to be the common class is right 60% of the time, and still says nothing.
    skewed = model.class_prior(np.array([596, 99, 99, 99, 99]))
    always_zero = np.zeros((5, 5))
    always_zero[:, 0] = 1
    assert model.information(always_zero, skewed) == pytest.approx(0, abs=1e-6)


def test_a_split_task_near_its_limit_is_not_reachable() -> None:
    matrices = np.array([model.one_coin(0.7, 5)] * 8)
    prior = np.full(5, 0.2)
    typical = model.one_coin(0.75, 5)
    split = [0, 1, 2, 0, 1, 2, 0, 1]
    assert not model.reachable(split, matrices, prior, 0.1, 0.5, 2, typical, 0.999)
    assert model.reachable(split, matrices, prior, 0.1, 0.5, 10, typical, 0.999)
    assert model.reachable([0, 0], matrices[:2], prior, 0.1, 0.5, 0, typical, 0.9)


def test_agreement_that_skills_explain_is_not_collusion() -> None:
    prior = np.full(5, 0.2)
    good = model.one_coin(0.95, 5)
    p = model.agreement_chance(good, good, prior)
    assert p == pytest.approx(0.95**2 + 4 * 0.0125**2)
    assert model.collusion_z(20, 18, 20 * p, 20 * p * (1 - p)) < 1  # two good workers agreeing 18 times of 20
    weak = model.one_coin(0.4, 5)
    q = model.agreement_chance(weak, weak, prior)
    assert model.collusion_z(20, 20, 20 * q, 20 * q * (1 - q)) > 5  # weak workers who always agree
    assert model.collusion_z(0, 0, 0.0, 0.0) == 0.0
