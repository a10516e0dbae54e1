"""Regenerate crowd-kit 1.4.2's results on the reference data (the expected values of
test_crowdkit_parity.py). Needs crowd-kit in its own virtualenv:

    python tests/aggregation/crowdkit_1_4_2/make.py /tmp/ckvenv/bin/python
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
REPO = HERE.parents[3]
REFERENCE = REPO / "tests" / "support" / "reference" / "crowd"
RUNNER = REPO / "benchmarks" / "crowdkit_runner.py"

DATASETS = {"toy": "toy_answers.csv", "simple": "simple_answers.csv", "ds1979": "dawid_skene_1979.csv"}
GOLD = {"toy": "toy_gold.csv", "simple": "simple_gold.csv"}
METHODS: dict[str, tuple[str, dict[str, object]]] = {
    "mv": ("MajorityVote", {}),
    "wawa": ("Wawa", {}),
    "zbs": ("ZeroBasedSkill", {}),
    "ds": ("DawidSkene", {}),
    "ds_gold": ("DawidSkene", {}),
    "onecoin": ("OneCoinDawidSkene", {}),
    "glad": ("GLAD", {}),
    "mace": ("MACE", {"n_restarts": 1}),
    "mace_em": ("MACE", {"n_restarts": 1, "method": "em"}),
}


def answers(dataset: str, method: str) -> pd.DataFrame:
    """The reference answers; MACE gets rows sorted by worker and label (see crowdnb's MACE)."""
    frame = pd.read_csv(REFERENCE / DATASETS[dataset])[["task", "worker", "label"]]
    if method.startswith("mace"):
        frame = frame.sort_values(["worker", "label"], kind="stable").reset_index(drop=True)
    return frame


def gold(dataset: str) -> pd.Series:
    frame = pd.read_csv(REFERENCE / GOLD[dataset])
    return frame.set_index(frame.columns[0])["value"].rename_axis("task")


def main(python: str) -> None:
    summary: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in DATASETS:
            for key, (method, params) in METHODS.items():
                if key == "ds_gold" and dataset not in GOLD:
                    continue
                source, out = Path(tmp, "answers.csv"), Path(tmp, "out.npz")
                answers(dataset, key).to_csv(source, index=False)
                command = [python, str(RUNNER), str(source), method, json.dumps(params), str(out)]
                if key == "ds_gold":
                    gold(dataset).reset_index().to_csv(Path(tmp, "gold.csv"), index=False)
                    command.append(str(Path(tmp, "gold.csv")))
                subprocess.run(command, check=True)
                result = np.load(out)
                frame = pd.DataFrame(result["probas"], index=result["tasks"], columns=result["labels"])
                frame.rename_axis(index="task", columns="label").stack().rename("proba").to_csv(
                    HERE / f"{dataset}_{key}.csv"
                )
                summary[f"{dataset}_{key}"] = int(result["iterations"])
    (HERE / "iterations.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
