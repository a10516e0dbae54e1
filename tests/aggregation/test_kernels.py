"""The numba kernels against the numpy reference: same labels, posteriors within 1e-9, on the
reference datasets and on random data full of ties; the threaded kernels give exactly what one
thread gives. numba is in the test extra, so these tests fail (never skip) without it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from crowdnb.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa, ZeroBasedSkill
from crowdnb.aggregation.base import KERNELS_FROM, ClassificationAggregator, kernels

ESTIMATORS: dict[str, Callable[[], ClassificationAggregator]] = {
    "mv": MajorityVote,
    "wawa": Wawa,
    "zbs": ZeroBasedSkill,
    "ds": lambda: DawidSkene(n_iter=60, tol=0),
    "ds-converged": DawidSkene,
    "onecoin": lambda: OneCoinDawidSkene(n_iter=60, tol=0),
}


def tied(seed: int, n_tasks: int = 400) -> pd.DataFrame:
    """1-4 answers per task (mostly 2 or 4) from 25 workers over 3 labels, workers drawn with
    replacement (so some repeat their answer): majority votes tie on a fifth of the tasks."""
    rng = np.random.default_rng(seed)
    per_task = rng.choice([1, 2, 2, 2, 3, 4, 4, 4], n_tasks)
    task = np.repeat(np.arange(n_tasks), per_task)
    truth = rng.integers(0, 3, n_tasks)
    right = rng.random(len(task)) < 0.5
    label = np.where(right, truth[task], rng.integers(0, 3, len(task)))
    return pd.DataFrame({"task": task, "worker": rng.integers(0, 25, len(task)), "label": np.array(["a", "b", "c"])[label]})


def fit(make: Callable[[], ClassificationAggregator], path: str, monkeypatch: pytest.MonkeyPatch, *args: object) -> ClassificationAggregator:
    monkeypatch.setenv("CROWDNB_KERNELS", path)
    return make().fit(*args)


def assert_same(reference: ClassificationAggregator, fast: ClassificationAggregator) -> None:
    pd.testing.assert_series_equal(fast.labels_, reference.labels_)
    pd.testing.assert_frame_equal(fast.probas_, reference.probas_, rtol=0, atol=1e-9)
    for attribute in ("skills_", "priors_"):
        if hasattr(reference, attribute):
            pd.testing.assert_series_equal(getattr(fast, attribute), getattr(reference, attribute), rtol=0, atol=1e-9)
    if isinstance(reference, DawidSkene):
        pd.testing.assert_frame_equal(fast.errors_, reference.errors_, rtol=0, atol=1e-9)
        np.testing.assert_allclose(fast.loss_history_, reference.loss_history_, rtol=1e-9)
        assert fast.n_iter_ == reference.n_iter_


def test_numba_is_installed_and_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROWDNB_KERNELS", "numba")
    assert kernels(10) is not None, 'numba is in the test extra: pip install "crowdnb[test]"'
    monkeypatch.setenv("CROWDNB_KERNELS", "auto")
    assert kernels(KERNELS_FROM - 1) is None
    assert kernels(KERNELS_FROM) is not None
    monkeypatch.setenv("CROWDNB_KERNELS", "numpy")
    assert kernels(10**9) is None
    monkeypatch.setenv("CROWDNB_KERNELS", "fortran")
    with pytest.raises(ValueError, match="CROWDNB_KERNELS must be"):
        kernels(10)


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("dataset", ["toy", "simple", "ds1979"])
def test_same_results_on_the_reference_data(method: str, dataset: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    data = request.getfixturevalue(dataset)
    data = data[0] if isinstance(data, tuple) else data
    make = ESTIMATORS[method]
    assert_same(fit(make, "numpy", monkeypatch, data), fit(make, "numba", monkeypatch, data))


def test_same_results_with_gold(simple: tuple[pd.DataFrame, pd.Series], simple_gold: pd.Series, monkeypatch: pytest.MonkeyPatch) -> None:
    answers, _ = simple
    assert_same(fit(DawidSkene, "numpy", monkeypatch, answers, simple_gold), fit(DawidSkene, "numba", monkeypatch, answers, simple_gold))


@pytest.mark.parametrize("method", ESTIMATORS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_results_on_random_data_with_ties(method: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tied(seed)
    make = ESTIMATORS[method]
    reference = fit(make, "numpy", monkeypatch, data)
    if method == "mv":
        shares = reference.probas_.to_numpy()
        assert ((shares == shares.max(axis=1, keepdims=True)).sum(axis=1) > 1).mean() > 0.15  # ties to break
    assert_same(reference, fit(make, "numba", monkeypatch, data))


@pytest.mark.parametrize("method", ["mv", "wawa", "ds", "onecoin"])
def test_threads_change_nothing(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel kernels (forced on small data) give bit for bit what one thread gives."""
    from crowdnb.aggregation import kernels as compiled

    data = tied(3, n_tasks=3000)
    make = ESTIMATORS[method]
    one_thread = fit(make, "numba", monkeypatch, data)
    monkeypatch.setattr(compiled, "PARALLEL_FROM", 0)
    threaded = fit(make, "numba", monkeypatch, data)
    pd.testing.assert_series_equal(threaded.labels_, one_thread.labels_)
    pd.testing.assert_frame_equal(threaded.probas_, one_thread.probas_, rtol=0, atol=0)
    if isinstance(one_thread, DawidSkene):
        assert threaded.loss_history_ == one_thread.loss_history_


def test_kernels_compile_without_a_cache_directory() -> None:
    """With no writable cache location numba cannot cache; the kernels then compile in the
    process instead of failing at import."""
    code = (
        "import pandas as pd\n"
        "from crowdnb.aggregation import MajorityVote, kernels\n"
        "frame = pd.DataFrame({'task': [1, 1, 2], 'worker': [1, 2, 1], 'label': ['a', 'a', 'b']})\n"
        "print(MajorityVote().fit_predict(frame).tolist(), type(kernels.vote._cache).__name__)\n"
    )
    env = {**os.environ, "CROWDNB_KERNELS": "numba", "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator"}
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["['a',", "'b']", "NullCache"]


def test_expected_counts_follow_the_tasks_that_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a full sum the kernels add only the change of the tasks the E-step marked as
    moved; the counts stay those of a full sum, and a task that moved by less than
    PROPAGATE_ABOVE is left as it was."""
    from crowdnb.aggregation import kernels as compiled
    from crowdnb.aggregation.base import Tally, encode
    from crowdnb.aggregation.classification.dawid_skene import _known, _Model

    monkeypatch.setenv("CROWDNB_KERNELS", "numba")
    answers = encode(tied(4, n_tasks=1000))
    model = _Model(answers, Tally(answers, compiled), _known(answers, None), compiled)
    rng = np.random.default_rng(0)
    first = rng.dirichlet(np.ones(3), size=1000)
    model.expected_counts(first)
    moved = first.copy()
    moved[:50] = rng.dirichlet(np.ones(3), size=50)  # 5 %: added as changes
    moved[50:60] += compiled.PROPAGATE_ABOVE / 2  # too little to add
    kernels = compiled.for_labels(3)
    none = np.empty((0, 3))
    sums = kernels.posteriors(np.log(moved), moved, model.known, none, model._propagated, model._moved)
    assert sums[-1] == 50
    counts = model.expected_counts(moved, int(sums[-1])).copy()
    np.testing.assert_allclose(counts, model.tally.by_pair @ moved, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(model._propagated[:50], moved[:50])
    np.testing.assert_array_equal(model._propagated[50:], first[50:])
