"""Agreement metrics against the `krippendorff` package and hand-worked examples."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest

from crowdnb.quality.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha, pairwise_iou


def _long(matrix: list[list[float]]) -> pd.DataFrame:
    """Coders x units (NaN: no label) as task, worker, label rows."""
    rows = [(u, c, v) for c, row in enumerate(matrix) for u, v in enumerate(row) if not np.isnan(v)]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x 12 units example.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
]


def test_alpha_matches_the_hand_worked_example() -> None:
    data = _long(KRIPPENDORFF_2011)
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "interval"])
@pytest.mark.parametrize("seed", range(5))
def test_alpha_matches_the_krippendorff_package(level: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, 40)
    matrix = np.where(rng.random((6, 40)) < 0.7, truth, rng.integers(0, 4, (6, 40))).astype(float)
    matrix[rng.random((6, 40)) < 0.3] = np.nan
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    assert krippendorff_alpha(_long(matrix.tolist()), level) == pytest.approx(expected, abs=1e-9)


def test_fleiss_kappa_of_fleiss_1971() -> None:
    # Wikipedia's worked example: 10 subjects, 14 raters, 5 categories -> kappa 0.210.
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    rows = [(s, f"r{k}", c) for s, counts in enumerate(table) for c, n in enumerate(counts) for k in range(n)]
    data = pd.DataFrame(rows, columns=["task", "worker", "label"])
    data["worker"] = data.groupby("task").cumcount()
    assert fleiss_kappa(data) == pytest.approx(0.210, abs=5e-4)
    with pytest.raises(ValueError, match="same number of labels per task"):
        fleiss_kappa(data.iloc[1:])


def test_cohen_kappa_hand_worked() -> None:
    # 50 items: both yes 20, a yes b no 5, a no b yes 10, both no 15 -> po 0.7, pe 0.5, kappa 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    rows = [(i, w, v) for i, pair in enumerate(pairs) for w, v in zip("ab", pair, strict=True)]
    data = pd.DataFrame(rows, columns=["task", "worker", "label"])
    assert cohen_kappa(data, "a", "b") == pytest.approx(0.4)


def test_pairwise_iou_of_boxes_and_polygons() -> None:
    box = {"label": "x", "x": 0, "y": 0, "w": 10, "h": 10}
    shifted = {**box, "x": 5}
    square = {"label": "x", "points": [[0, 0], [10, 0], [10, 10], [0, 10]]}
    data = pd.DataFrame(
        {
            "task": ["a", "a", "b", "b", "b", "c", "c", "d"],
            "worker": [1, 2, 1, 2, 3, 1, 2, 1],
            "label": [[box], [shifted], [box], [box], [], [square], [square], [box]],
        }
    )
    result = pairwise_iou(data)
    assert result["a"] == pytest.approx(1 / 3)
    assert result["b"] == pytest.approx(1 / 3)
    assert result["c"] == pytest.approx(1.0)
    assert "d" not in result


def test_pairwise_iou_of_ocr_quads() -> None:
    quad = {"quad": [[0, 0], [10, 0], [10, 10], [0, 10]], "text": "a"}
    shifted = {"quad": [[5, 0], [15, 0], [15, 10], [5, 10]], "text": "a"}
    data = pd.DataFrame({"task": ["a", "a"], "worker": [1, 2], "label": [[quad], [shifted]]})
    assert pairwise_iou(data)["a"] == pytest.approx(1 / 3, abs=0.02)
