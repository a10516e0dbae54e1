"""The method registry: one table built from the estimator classes, every kind's default
aggregator in it, parameters checked; `aggregate`'s result frame, from a frame or from codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crowdnb.aggregation
from crowdnb import kinds
from crowdnb.aggregation.base import Answers, ClassificationAggregator, StructuredAggregator
from crowdnb.aggregation.classification import BinaryRelevance, DawidSkene, MajorityVote
from crowdnb.aggregation.methods import CATEGORICAL, ESTIMATORS, METHODS, SINGLE_CHOICE, STRUCTURED, aggregate

LABELS = pd.DataFrame({"task": ["b", "a", "a"], "worker": [1, 1, 2], "label": ["x", "y", "y"]})


@pytest.mark.parametrize("name", kinds.names())
def test_every_kind_names_a_known_method_by_its_class(name: str) -> None:
    aggregator = kinds.get(name).aggregator
    assert isinstance(aggregator, type)
    assert ESTIMATORS[aggregator.name] is aggregator
    assert aggregator.name in METHODS


def test_the_table_is_built_from_the_classes() -> None:
    exported = [getattr(crowdnb.aggregation, n) for n in crowdnb.aggregation.__all__]
    estimators = [c for c in exported if issubclass(c, (ClassificationAggregator, StructuredAggregator))]
    assert sorted(ESTIMATORS.values(), key=lambda c: c.name) == sorted(estimators, key=lambda c: c.name)
    assert all(ESTIMATORS[c.name] is c for c in estimators)
    assert len({c.name for c in estimators}) == len(estimators) == 15
    assert METHODS == sorted(ESTIMATORS)
    assert set(CATEGORICAL) | set(STRUCTURED) | {"binary-relevance"} == set(METHODS)


def test_single_choice_holds_the_categorical_classes_and_names() -> None:
    single = {k for k in kinds.names() if kinds.get(k).aggregator in SINGLE_CHOICE}
    assert single == {"image-class", "text-class"}
    assert DawidSkene in SINGLE_CHOICE and "dawid-skene" in SINGLE_CHOICE
    assert BinaryRelevance not in SINGLE_CHOICE and "binary-relevance" not in SINGLE_CHOICE


def test_aggregate_gives_one_row_per_task() -> None:
    result = aggregate(LABELS, "dawid-skene")
    assert result.columns.tolist() == ["task", "label", "confidence", "n_labels"]
    assert result[["task", "label", "n_labels"]].values.tolist() == [["a", "y", 2], ["b", "x", 1]]
    assert result["confidence"].tolist() == pytest.approx([1.0, 1.0])
    texts = pd.DataFrame({"task": [1, 1], "worker": [1, 2], "label": ["hello world", "hello world"]})
    assert aggregate(texts, "rover").values.tolist() == [[1, "hello world", 1.0, 2]]
    assert aggregate(LABELS.iloc[:0], "boxes").empty


def test_aggregate_takes_a_class_as_well_as_a_name() -> None:
    pd.testing.assert_frame_equal(aggregate(LABELS, MajorityVote), aggregate(LABELS, "majority-vote"))
    sets = pd.DataFrame({"task": [1, 1], "worker": [1, 2], "label": [["a"], ["a", "b"]]})
    by_class = aggregate(sets, BinaryRelevance, base=MajorityVote)
    pd.testing.assert_frame_equal(by_class, aggregate(sets, "binary-relevance", base="majority-vote"))
    with pytest.raises(ValueError, match="unknown aggregation method 'nope'.*majority-vote"):
        aggregate(LABELS, "nope")
    with pytest.raises(ValueError, match="unknown aggregation method"):
        aggregate(LABELS, dict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "params", "named"),
    [
        ("majority-vote", {"foo": 1}, ["'foo'", "default_skill", "on_missing_skill"]),
        ("dawid-skene", {"n_iter": 5, "bar": 2}, ["'bar'", "n_iter, tol"]),
        ("spans", {"level": "chars"}, ["'level'", "none"]),
        ("boxes", {"iou": 0.3}, ["'iou'", "iou_threshold", "min_workers"]),
        ("binary-relevance", {"base": "majority-vote", "tol": 1}, ["'binary-relevance'", "'tol'", "base", "default_skill"]),
    ],
)
def test_unknown_parameters_are_refused_with_the_accepted_ones(method: str, params: dict, named: list[str]) -> None:
    with pytest.raises(TypeError) as caught:
        aggregate(LABELS, method, **params)
    for fragment in named:
        assert fragment in str(caught.value)
    with pytest.raises(TypeError, match="'foo'"):
        aggregate(LABELS.iloc[:0], method, foo=1)  # refused before looking at the labels


def test_known_parameters_and_bases_still_work() -> None:
    assert aggregate(LABELS, "dawid-skene", n_iter=3, tol=0).shape == (2, 4)
    sets = pd.DataFrame({"task": [1, 1, 2], "worker": [1, 2, 1], "label": [["a"], ["a", "b"], []]})
    result = aggregate(sets, "binary-relevance", base="dawid-skene", n_iter=5)
    assert result["label"].tolist() == [["a"], []]
    with pytest.raises(ValueError, match="categorical base"):
        aggregate(sets, "binary-relevance", base="boxes")


def test_import_loads_numpy_scipy_and_pandas_only() -> None:
    """`crowdnb.aggregation` on its own (the `crowdnb` package's own __init__ left out, since it
    imports the whole library): no SQLAlchemy, HTTP client, IPython or crowdnb.kinds."""
    package = Path(crowdnb.aggregation.__file__).resolve().parents[1]
    code = f"""
import sys, types
stub = types.ModuleType("crowdnb"); stub.__path__ = [{str(package)!r}]
sys.modules["crowdnb"] = stub
before = set(sys.modules)
import crowdnb.aggregation, crowdnb.aggregation.methods
loaded = {{m.split(".")[0] for m in set(sys.modules) - before}}
crowdnb_modules = sorted(m for m in sys.modules if m.startswith("crowdnb.") and not m.startswith("crowdnb.aggregation"))
print(sorted(loaded & {{"sqlalchemy", "httpx", "IPython", "ipywidgets", "anywidget", "alembic", "PIL", "fastapi", "psycopg"}}))
print(crowdnb_modules)
print(sorted(loaded & {{"numpy", "scipy", "pandas"}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["[]", "[]", "['numpy', 'pandas', 'scipy']"]


def test_aggregate_takes_coded_answers_like_a_frame() -> None:
    """Integer codes from the store give the frame's result; unused tasks, workers and classes
    (codes into a kind's class list, unsorted) are left out; known answers stay by task value."""
    answers = Answers(
        task=np.array([1, 0, 0]), worker=np.array([0, 0, 1]), label=np.array([2, 0, 0]),
        tasks=pd.Index(["a", "b", "c"]), workers=pd.Index([1, 2, 3]), labels=pd.Index(["y", "z", "x"]),
    )
    for method in ("dawid-skene", "majority-vote", "wawa", "one-coin-dawid-skene"):
        pd.testing.assert_frame_equal(aggregate(answers, method), aggregate(LABELS, method))
    known = pd.Series({"b": "y", "zz": "x"})
    pd.testing.assert_frame_equal(aggregate(answers, "dawid-skene", known=known), aggregate(LABELS, "dawid-skene", known=known))
    assert aggregate(answers, "dawid-skene", known=known).set_index("task").loc["b", "label"] == "y"


@pytest.mark.parametrize("method", ["boxes", "rover", "binary-relevance"])
def test_coded_answers_are_for_single_choice_methods(method: str) -> None:
    answers = Answers(np.array([0]), np.array([0]), np.array([0]), pd.Index(["t"]), pd.Index(["w"]), pd.Index(["x"]))
    with pytest.raises(ValueError, match="takes its labels as a DataFrame"):
        aggregate(answers, method)
