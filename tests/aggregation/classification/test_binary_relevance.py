"""Multi-label aggregation by binary relevance."""

from __future__ import annotations

import pandas as pd
import pytest

from crowdnb.aggregation import BinaryRelevance, DawidSkene


def test_each_class_is_voted_on_its_own() -> None:
    answers = pd.DataFrame(
        {
            "task": ["t1", "t1", "t1", "t2", "t2", "t2"],
            "worker": ["a", "b", "c", "a", "b", "c"],
            "label": [["cat", "dog"], ["cat"], ["cat", "dog"], [], ["dog"], []],
        }
    )
    br = BinaryRelevance().fit(answers)
    assert br.labels_.to_dict() == {"t1": ["cat", "dog"], "t2": []}
    assert br.probas_.loc["t1", "dog"] == pytest.approx(2 / 3)
    assert set(br.aggregators_) == {"cat", "dog"}
    assert BinaryRelevance(DawidSkene(n_iter=10)).fit_predict(answers)["t1"] == ["cat", "dog"]


def test_answers_that_are_not_lists_are_named() -> None:
    answers = pd.DataFrame({"task": [1], "worker": ["a"], "label": ["cat"]})
    with pytest.raises(ValueError, match="label in row 0 is 'cat'"):
        BinaryRelevance().fit(answers)
