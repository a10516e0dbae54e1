"""Reference crowd data (true labels known), copied into tests/support/reference/crowd/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "support" / "reference" / "crowd"


def _answers(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / name)[["task", "worker", "label"]]


def _truth(name: str) -> pd.Series:
    return pd.read_csv(REFERENCE / name).set_index("task")["agg_label"]


@pytest.fixture
def toy() -> tuple[pd.DataFrame, pd.Series]:
    """5 workers x 5 yes/no tasks and their true labels."""
    return _answers("toy_answers.csv"), _truth("toy_truth.csv")


@pytest.fixture
def simple() -> tuple[pd.DataFrame, pd.Series]:
    """10 bird tasks, 6 workers (one always says "parrot"), and the true labels of some."""
    return _answers("simple_answers.csv"), _truth("simple_truth.csv")


@pytest.fixture
def ds1979() -> pd.DataFrame:
    """Dawid & Skene (1979): 45 patients, 5 anaesthetists, observer 1 rated each 3 times."""
    return _answers("dawid_skene_1979.csv")


@pytest.fixture
def simple_gold() -> pd.Series:
    return pd.read_csv(REFERENCE / "simple_gold.csv").set_index("task")["value"]
