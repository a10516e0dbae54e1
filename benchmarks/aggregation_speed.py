"""Aggregation speed: crowdnb vs crowd-kit 1.4.2 on the same simulated answers, and crowdnb at
a company's scale on integer codes.

    python benchmarks/aggregation_speed.py [--tasks 100000] [--overlap 10] [--workers 2000]
        [--classes 5] [--crowdkit-python /tmp/ckvenv/bin/python] [--methods ds,mv,onecoin,glad]
    python benchmarks/aggregation_speed.py --scale [10m|1m|100k] [--methods ds,onecoin,mv,wawa]

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

`--scale` (issue 15; default size 10m: 10,000,000 answers = 1,000,000 tasks x 10 from 100,000
workers, 5 classes; 1m and 100k divide every count by 10 and 100) times `fit_answers` on integer
codes with the numpy reference (``CROWDNB_KERNELS=numpy``) and with the numba kernels, each in a
fresh process (so numba's import and loading of its compiled code count), plus `fit` on the
DataFrame the store hands over today (string classes) for Dawid-Skene and majority vote, so the
cost of encoding shows. numba compiles into a fresh cache directory first; that cold compile is
timed on its own. Prints peak RSS per process, whether each path's labels equal the numpy
reference's and the largest posterior difference, the load average beside each row, and PASS/FAIL
for the targets (Dawid-Skene < 20 s, majority vote < 3 s, on codes with the default kernels).
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


def simulate_codes(n_tasks: int, overlap: int, n_workers: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers as integer codes (task, worker, label; rows in task order) and the true class of
    each task."""
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
    return task, worker, label, truth


def simulate(n_tasks: int, overlap: int, n_workers: int, n_classes: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Answers (task, worker, label; all integers) and the true class of each task."""
    task, worker, label, truth = simulate_codes(n_tasks, overlap, n_workers, n_classes, seed)
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
    parser.add_argument("--methods", default=None, help="default ds,mv,onecoin,glad; with --scale ds,onecoin,mv,wawa (zbs too)")
    parser.add_argument("--glad-iter", type=int, default=3)
    parser.add_argument("--crowdkit-python", default=os.environ.get("CROWDKIT_PYTHON", "/tmp/ckvenv/bin/python"))
    parser.add_argument("--scale", nargs="?", const="10m", choices=sorted(SCALES), help="time crowdnb alone on integer codes at this size (default 10m)")
    parser.add_argument("--run-ours", nargs=4, metavar=("CSV", "METHOD", "PARAMS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--run-scale", nargs=4, metavar=("SIZE", "METHOD", "ENTRY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_ours:
        run_ours(*args.run_ours)
        return
    if args.run_scale:
        run_scale(*args.run_scale)
        return
    if args.scale:
        scale(args.scale, (args.methods or "ds,onecoin,mv,wawa").split(","))
        return
    args.methods = args.methods or "ds,mv,onecoin,glad"

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


# --scale: sizes as (tasks, workers); every task gets 10 answers over 5 classes.
SCALES = {"10m": (1_000_000, 100_000), "1m": (100_000, 10_000), "100k": (10_000, 1_000)}
SCALE_METHODS = {"ds": "DawidSkene", "onecoin": "OneCoinDawidSkene", "mv": "MajorityVote", "wawa": "Wawa", "zbs": "ZeroBasedSkill"}
CLASS_NAMES = np.array(["complaint", "other", "praise", "question", "spam"], dtype=object)


def scale_estimator(method: str) -> object:
    from crowdnb import aggregation

    options = {"n_iter": 100, "tol": 0.0} if method in ("ds", "onecoin") else {}
    return getattr(aggregation, SCALE_METHODS[method])(**options)


def run_scale(size: str, method: str, entry: str, out: str) -> None:
    """In a fresh process: simulate, then time one fit on integer codes (`entry` "codes") or on
    the DataFrame with string classes ("frame"), or compile every kernel ("compile")."""
    from crowdnb.aggregation.base import Answers

    n_tasks, n_workers = SCALES[size] if entry != "compile" else (50, 20)
    task, worker, label, truth = simulate_codes(n_tasks, 10, n_workers, 5)
    index = pd.RangeIndex
    answers = Answers(task, worker, label, index(n_tasks), index(n_workers), index(5)).compact()
    frame = pd.DataFrame({"task": task, "worker": worker, "label": CLASS_NAMES[label]}) if entry == "frame" else None
    before = rss_mib()
    start = time.perf_counter()
    if entry == "compile":
        for name in SCALE_METHODS:
            scale_estimator(name).fit_answers(answers)
        estimator = scale_estimator(method)
        estimator.fit_answers(answers)
    elif entry == "frame":
        estimator = scale_estimator(method)
        estimator.fit(frame)
    else:
        estimator = scale_estimator(method)
        estimator.fit_answers(answers)
    seconds = time.perf_counter() - start
    probas = estimator.probas_.to_numpy()
    codes = estimator.probas_.columns.get_indexer(estimator.labels_.to_numpy())
    np.savez(
        out, probas=probas, labels=codes, accuracy=float((codes == truth).mean()), seconds=seconds, before_mib=before,
        peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def rss_mib() -> float:
    """This process's resident memory now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def scale(size: str, methods: list[str]) -> None:
    """The --scale table: numpy reference and numba kernels on codes, fit on a frame, PASS/FAIL."""
    n_tasks, n_workers = SCALES[size]
    try:
        import numba
    except ImportError:
        numba = None
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {numba.__version__ if numba else 'MISSING (pip install crowdnb[fast])'}"
    )
    print(f"data: {n_tasks * 10:,} answers = {n_tasks:,} tasks x 10 from {n_workers:,} workers (accuracy uniform 0.60-0.95), 5 classes")
    print("Dawid-Skene and one-coin run 100 iterations (tol=0); each row is a fresh process; load = 1-minute load average before the row")
    header = f"{'method':<18} {'input':<7} {'kernels':<7} {'seconds':>8} {'MiB before':>10} {'MiB peak':>9} {'same labels':>11} {'max |dp|':>9} {'accuracy':>8} {'load':>5}"
    print(header)
    print("-" * len(header), flush=True)
    results: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp, "numba-cache"))}
        if numba is not None:
            load = os.getloadavg()[0]
            compiled = scale_child(size, "ds", "compile", Path(tmp, "compile.npz"), {**env, "CROWDNB_KERNELS": "numba"})
            print(f"numba: compiling every kernel into an empty cache took {float(compiled['seconds']):.1f} s (load {load:.1f}); the rows below load them from that cache", flush=True)
        paths = ["numpy", "numba"] if numba is not None else ["numpy"]
        runs = [(m, "codes", path) for m in methods for path in paths]
        runs += [(m, "frame", paths[-1]) for m in methods if m in ("ds", "mv")]
        for method, entry, path in runs:
            load = os.getloadavg()[0]
            result = scale_child(size, method, entry, Path(tmp, "out.npz"), {**env, "CROWDNB_KERNELS": path})
            results[method, entry, path] = result
            reference = results.get((method, "codes", "numpy"))
            same = "-" if reference is None or path == "numpy" and entry == "codes" else str(bool((result["labels"] == reference["labels"]).all()))
            diff = "-" if same == "-" else f"{float(np.abs(result['probas'] - reference['probas']).max()):.1e}"
            print(
                f"{SCALE_METHODS[method]:<18} {entry:<7} {path:<7} {float(result['seconds']):>8.2f} {float(result['before_mib']):>10.0f} "
                f"{float(result['peak_mib']):>9.0f} {same:>11} {diff:>9} {float(result['accuracy']):>8.4f} {load:>5.1f}",
                flush=True,
            )
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    fast = paths[-1]
    for method, target in (("ds", 20.0), ("mv", 3.0)):
        if (method, "codes", fast) in results:
            seconds = float(results[method, "codes", fast]["seconds"])
            verdict = "PASS" if seconds < target else "FAIL"
            print(f"{verdict}: {SCALE_METHODS[method]} fit_answers on {n_tasks * 10:,} answers ({fast}) {seconds:.1f} s < {target:.0f} s")


def scale_child(size: str, method: str, entry: str, out: Path, env: dict[str, str]) -> dict[str, np.ndarray]:
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--run-scale", size, method, entry, str(out)], check=True, env=env)
    with np.load(out) as result:
        return dict(result)


if __name__ == "__main__":
    main()
