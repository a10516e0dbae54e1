"""Same results as crowd-kit 1.4.2 on the reference data (expected values made by
crowdkit_1_4_2/make.py). Dawid-Skene runs as many iterations as crowd-kit ran there, since
crowd-kit's stopping rule differs (see DawidSkene)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdnb.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa, ZeroBasedSkill

EXPECTED = Path(__file__).with_name("crowdkit_1_4_2")
sys.path.insert(0, str(EXPECTED))

from make import DATASETS, GOLD, answers, gold  # noqa: E402

ITERATIONS = json.loads((EXPECTED / "iterations.json").read_text())


def _estimator(dataset: str, key: str) -> object:
    runs = ITERATIONS[f"{dataset}_{key}"]
    return {
        "mv": lambda: MajorityVote(),
        "wawa": lambda: Wawa(),
        "zbs": lambda: ZeroBasedSkill(),
        "ds": lambda: DawidSkene(n_iter=runs, tol=0),
        "ds_gold": lambda: DawidSkene(n_iter=runs, tol=0),
        "onecoin": lambda: OneCoinDawidSkene(n_iter=runs, tol=0),
        "glad": lambda: GLAD(),
        "mace": lambda: MACE(n_restarts=1),
        "mace_em": lambda: MACE(n_restarts=1, method="em"),
    }[key]()


CASES = [
    (dataset, key)
    for dataset in DATASETS
    for key in ("mv", "wawa", "zbs", "ds", "ds_gold", "onecoin", "glad", "mace", "mace_em")
    if key != "ds_gold" or dataset in GOLD
    # crowd-kit's MACE is consistent only when workers and labels first appear in sorted order;
    # on `simple` the first worker (in sorted order) only ever answers "parrot".
    if not (key.startswith("mace") and dataset == "simple")
]


@pytest.mark.parametrize(("dataset", "key"), CASES, ids=[f"{d}-{k}" for d, k in CASES])
def test_same_posteriors_and_labels_as_crowdkit(dataset: str, key: str) -> None:
    data = answers(dataset, key)
    estimator = _estimator(dataset, key)
    if key == "ds_gold":
        estimator.fit(data, gold(dataset))
    else:
        estimator.fit(data)
    expected = pd.read_csv(EXPECTED / f"{dataset}_{key}.csv").astype({"task": str, "label": str})
    expected = expected.pivot(index="task", columns="label", values="proba")
    ours = estimator.probas_.rename(index=str, columns=str).loc[expected.index, expected.columns]
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), atol=1e-6)
    assert (estimator.labels_.rename(index=str).astype(str).loc[expected.index] == expected.idxmax(axis=1)).all()
