"""Run one crowd-kit 1.4.2 aggregator on a CSV of answers, in crowd-kit's own virtualenv.

    /tmp/ckvenv/bin/python benchmarks/crowdkit_runner.py ANSWERS.csv METHOD PARAMS_JSON OUT.npz [GOLD.csv]

Writes the posteriors (tasks and labels in sorted order), the labels, the number of iterations
(where the method reports one), the fit time and the process's peak memory. Used by
aggregation_speed.py and crowdkit_reference.py; it imports nothing from crowdnb, so it runs
with crowd-kit's pinned pandas/scikit-learn.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.simplefilter("ignore")


def main(path: str, method: str, params: str, out: str, gold: str | None = None) -> None:
    from crowdkit import aggregation

    answers = pd.read_csv(path)
    estimator = getattr(aggregation, method)(**json.loads(params))
    start = time.perf_counter()
    if gold is not None:
        truth = pd.read_csv(gold).set_index("task")["value"]
        probas = estimator.fit_predict_proba(answers[["task", "worker", "label"]], truth)
    else:
        probas = estimator.fit_predict_proba(answers[["task", "worker", "label"]])
    seconds = time.perf_counter() - start
    probas = probas.sort_index().sort_index(axis=1)
    np.savez(
        out,
        tasks=probas.index.to_numpy().astype(str),
        labels=probas.columns.to_numpy().astype(str),
        probas=probas.to_numpy(dtype=float),
        agg=estimator.labels_.sort_index().to_numpy().astype(str),
        iterations=len(getattr(estimator, "loss_history_", [])),
        seconds=seconds,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
