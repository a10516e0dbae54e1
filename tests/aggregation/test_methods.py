"""The method registry: every kind's default aggregator exists; `aggregate`'s result frame."""

from __future__ import annotations

import pandas as pd
import pytest

from crowdnb import kinds
from crowdnb.aggregation.methods import METHODS, aggregate


@pytest.mark.parametrize("name", kinds.names())
def test_every_kind_names_a_known_method(name: str) -> None:
    assert kinds.get(name).aggregator in METHODS


def test_aggregate_gives_one_row_per_task() -> None:
    labels = pd.DataFrame({"task": ["b", "a", "a"], "worker": [1, 1, 2], "label": ["x", "y", "y"]})
    result = aggregate(labels, "dawid-skene")
    assert result.columns.tolist() == ["task", "label", "confidence", "n_labels"]
    assert result[["task", "label", "n_labels"]].values.tolist() == [["a", "y", 2], ["b", "x", 1]]
    assert result["confidence"].tolist() == pytest.approx([1.0, 1.0])
    texts = pd.DataFrame({"task": [1, 1], "worker": [1, 2], "label": ["hello world", "hello world"]})
    assert aggregate(texts, "rover").values.tolist() == [[1, "hello world", 1.0, 2]]
    assert aggregate(labels.iloc[:0], "boxes").empty
