"""Aggregation speed: crowdnb vs crowd-kit 1.4.2 on the same simulated answers.

    python benchmarks/aggregation_speed.py [--tasks 100000] [--overlap 10] [--workers 2000]
        [--classes 5] [--crowdkit-python /tmp/ckvenv/bin/python] [--methods ds,mv,onecoin,glad]

The crowd: every task gets `--overlap` distinct workers; worker accuracy is uniform in
[0.60, 0.95], wrong answers uniform over the other classes; the true classes are uniform.
Each (library, method) fit runs in its own fresh process that reads the same CSV, so the peak
RSS column is that process's peak (answers frame included). crowd-kit runs in its own
virtualenv (`--crowdkit-python`; crowd-kit 1.4.2 with scikit-learn<1.8, pandas<3); without it
the crowd-kit columns say so.

Dawid-Skene and one-coin Dawid-Skene run exactly 100 iterations: crowdnb with tol=0; crowd-kit
with tol=-inf, because its loss is not monotone and with tol=0 it stops as soon as the loss dips
(at 20 and 13 iterations on a small run). GLAD runs `--glad-iter` EM iterations in both (same
stopping rule; crowd-kit's GLAD takes minutes per iteration at this size).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "crowdkit_runner.py"
METHODS = {"ds": "DawidSkene", "mv": "MajorityVote", "onecoin": "OneCoinDawidSkene", "glad": "GLAD"}


def simulate(n_tasks: int, overlap: int, n_workers: int, n_classes: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Answers (task, worker, label; all integers) and the true class of each task."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    accuracy = rng.uniform(0.60, 0.95, n_workers)
    workers = rng.integers(0, n_workers, (n_tasks, overlap))
    repeated = np.flatnonzero((np.diff(np.sort(workers, axis=1), axis=1) == 0).any(axis=1))
    for task in repeated:
        workers[task] = rng.choice(n_workers, overlap, replace=False)
    task = np.repeat(np.arange(n_tasks), overlap)
    worker = workers.ravel()
    right = rng.random(task.size) < accuracy[worker]
    wrong = (truth[task] + rng.integers(1, n_classes, task.size)) % n_classes
    label = np.where(right, truth[task], wrong)
    return pd.DataFrame({"task": task, "worker": worker, "label": label}), truth


def params(method: str, library: str, glad_iter: int) -> dict[str, object]:
    if method in ("ds", "onecoin"):
        return {"n_iter": 100, "tol": 0.0 if library == "crowdnb" else float("-inf")}
    if method == "glad":
        return {"n_iter": glad_iter}
    return {}


def run_ours(path: str, method: str, options: str, out: str) -> None:
    """Fit crowdnb's estimator in this (fresh) process and save what the runner saves."""
    from crowdnb import aggregation

    answers = pd.read_csv(path)
    estimator = getattr(aggregation, METHODS[method])(**json.loads(options))
    start = time.perf_counter()
    probas = estimator.fit_predict_proba(answers)
    seconds = time.perf_counter() - start
    np.savez(
        out,
        probas=probas.to_numpy(),
        agg=estimator.labels_.to_numpy(),
        iterations=getattr(estimator, "n_iter_", len(getattr(estimator, "loss_history_", []))),
        seconds=seconds,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def fit(python: str, script: list[str], path: Path, method: str, options: dict[str, object], out: Path) -> dict[str, np.ndarray]:
    subprocess.run([python, *script, str(path), METHODS[method] if script == [str(RUNNER)] else method, json.dumps(options), str(out)], check=True)
    with np.load(out) as result:
        return dict(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--overlap", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2_000)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--methods", default="ds,mv,onecoin,glad")
    parser.add_argument("--glad-iter", type=int, default=3)
    parser.add_argument("--crowdkit-python", default=os.environ.get("CROWDKIT_PYTHON", "/tmp/ckvenv/bin/python"))
    parser.add_argument("--run-ours", nargs=4, metavar=("CSV", "METHOD", "PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_ours:
        run_ours(*args.run_ours)
        return

    crowdkit = Path(args.crowdkit_python)
    has_crowdkit = crowdkit.exists() and subprocess.run(
        [str(crowdkit), "-c", "import crowdkit"], capture_output=True
    ).returncode == 0
    answers, truth = simulate(args.tasks, args.overlap, args.workers, args.classes)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.2f} (other processes slow both libraries' fits)"
    )
    print(
        f"data: {len(answers):,} answers = {args.tasks:,} tasks x {args.overlap}, {args.workers:,} workers "
        f"(accuracy uniform 0.60-0.95), {args.classes} classes"
    )
    if not has_crowdkit:
        print(f"crowd-kit: MISSING at {crowdkit} (pass --crowdkit-python); only crowdnb is timed")
    header = f"{'method':<20} {'iters':>7} {'crowdnb s':>10} {'crowd-kit s':>12} {'speed-up':>9} {'same labels':>12} {'max |dp|':>10} {'crowdnb MiB':>12} {'crowd-kit MiB':>14} {'accuracy':>9}"
    print(header)
    print("-" * len(header), flush=True)
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "answers.csv")
        answers.to_csv(path, index=False)
        for method in args.methods.split(","):
            ck = None
            if has_crowdkit:
                ck = fit(str(crowdkit), [str(RUNNER)], path, method, params(method, "crowd-kit", args.glad_iter), Path(tmp, "ck.npz"))
            options = params(method, "crowdnb", args.glad_iter)
            ours = fit(sys.executable, [str(Path(__file__).resolve()), "--run-ours"], path, method, options, Path(tmp, "ours.npz"))
            if ck is not None and method != "mv" and int(ck["iterations"]) != int(ours["iterations"]):
                notes.append(f"{METHODS[method]}: crowd-kit ran {int(ck['iterations'])} iterations, crowdnb {int(ours['iterations'])}")
            accuracy = float((ours["agg"] == truth).mean())
            iters = "" if method == "mv" else str(int(ours["iterations"]))
            if ck is None:
                print(f"{METHODS[method]:<20} {iters:>7} {float(ours['seconds']):>10.2f} {'-':>12} {'-':>9} {'-':>12} {'-':>10} {float(ours['peak_mib']):>12.0f} {'-':>14} {accuracy:>9.4f}", flush=True)
                continue
            same = bool((ck["agg"].astype(int) == ours["agg"].astype(int)).all())
            diff = float(np.abs(ck["probas"] - ours["probas"]).max())
            speedup = float(ck["seconds"]) / float(ours["seconds"])
            print(
                f"{METHODS[method]:<20} {iters:>7} {float(ours['seconds']):>10.2f} {float(ck['seconds']):>12.2f} {speedup:>8.1f}x "
                f"{str(same):>12} {diff:>10.1e} {float(ours['peak_mib']):>12.0f} {float(ck['peak_mib']):>14.0f} {accuracy:>9.4f}",
                flush=True,
            )
    for note in notes:
        print("note:", note)
    print("times: fit only (answers already loaded); MiB: peak RSS of the fitting process; accuracy: crowdnb's labels vs the simulated truth")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
