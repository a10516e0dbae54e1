"""Aggregation quality: accuracy against labels paid for, on a simulated crowd.

    python benchmarks/aggregation_quality.py [--tasks 5000] [--workers 200] [--classes 5] [--seed 0]

The crowd (printed with the results): honest workers with accuracy uniform in [0.60, 0.95]
(wrong answers uniform over the other classes); 10% spammers, half answering uniformly at
random and half always the same class, at a normal pace; 5% fast clickers answering at random
in ~0.3 s. True classes are uniform. Honest workers take ~4 s per answer.

Strategies:
- majority vote and Dawid-Skene with a fixed overlap k: each task gets k distinct workers
  drawn at random from the whole crowd (in memory);
- control tasks + dynamic overlap through the real store (SQLite, durable commits) and
  `Project.results()`: workers, in random order, claim 5 tasks at a time and answer them;
  the project's policy (printed, with what each setting does) gives each worker an entry test
  of control tasks and mixes in a few more, measures every worker on control answers and on
  agreement with confidently closed tasks, bans workers whose skill is very low and suspends
  the weaker ones (no new tasks; their labels count), flags answers under 1 s, and asks for
  one more label on a task until its posterior reaches the target. The labels are then
  aggregated by Dawid-Skene (the kind's default) and by one-coin Dawid-Skene.
  Labels per task counts every answer given, control answers and those of workers banned later
  included, per regular task; the paid count leaves out banned workers' and too-fast answers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crowdnb import Project, SqlStore
from crowdnb.aggregation import DawidSkene, MajorityVote
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import Submission


OVERLAP = 2  # every task needs two labels at least: one never reaches the target


def in_words(policy: QualityPolicy) -> str:
    """The policy as a user would read it."""
    return (
        f"overlap {OVERLAP} to start; each worker's first {policy.min_control} tasks are control tasks (the entry "
        f"test), then {policy.control_rate:.0%} of their tasks; skill = (right + {policy.skill_prior} * "
        f"{policy.prior_weight:g}) / (answers + {policy.prior_weight:g}) over control answers and labels on "
        f"confidently closed tasks (right: agreeing); after the entry test, a worker whose skill falls below "
        f"{policy.ban_below} is banned (labels dropped), below {policy.suspend_below} suspended (no new tasks, "
        f"labels kept); answers under {policy.min_duration_ms} ms are flagged and not used; a task gets one more "
        f"label until its one-coin posterior with these skills reaches {policy.target_confidence}, or it has "
        f"{policy.max_overlap} labels"
    )


@dataclass(frozen=True)
class Crowd:
    """Who the workers are: accuracy (honest), or a spamming / fast-clicking style."""

    kind: np.ndarray  # "honest", "random", "constant", "fast"
    accuracy: np.ndarray
    constant: np.ndarray
    n_classes: int

    @classmethod
    def simulate(cls, n_workers: int, n_classes: int, rng: np.random.Generator) -> Crowd:
        kind = np.full(n_workers, "honest", dtype=object)
        order = rng.permutation(n_workers)
        n_spam, n_fast = round(0.10 * n_workers), round(0.05 * n_workers)
        kind[order[: n_spam // 2]] = "random"
        kind[order[n_spam // 2 : n_spam]] = "constant"
        kind[order[n_spam : n_spam + n_fast]] = "fast"
        return cls(kind, rng.uniform(0.60, 0.95, n_workers), rng.integers(0, n_classes, n_workers), n_classes)

    def answer(self, worker: int, truth: int, rng: np.random.Generator) -> tuple[int, int]:
        """(label, duration in ms)."""
        kind = self.kind[worker]
        duration = int(rng.lognormal(np.log(4000), 0.4))
        if kind == "constant":
            return int(self.constant[worker]), duration
        if kind in ("random", "fast"):
            return int(rng.integers(0, self.n_classes)), (int(rng.uniform(150, 450)) if kind == "fast" else duration)
        if rng.random() < self.accuracy[worker]:
            return truth, duration
        return int((truth + rng.integers(1, self.n_classes)) % self.n_classes), duration


def fixed_overlap(crowd: Crowd, truth: np.ndarray, k: int, rng: np.random.Generator) -> tuple[float, float]:
    """Accuracy of majority vote and Dawid-Skene with k random workers per task."""
    rows = []
    for task, true in enumerate(truth):
        for worker in rng.choice(len(crowd.kind), k, replace=False):
            rows.append((task, int(worker), crowd.answer(int(worker), int(true), rng)[0]))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    mv = MajorityVote().fit_predict(answers).sort_index().to_numpy()
    ds = DawidSkene().fit_predict(answers).sort_index().to_numpy()
    return float((mv == truth).mean()), float((ds == truth).mean())


def dynamic(crowd: Crowd, truth: np.ndarray, policy: QualityPolicy, n_controls: int, rng: np.random.Generator, folder: Path) -> dict[str, Any]:
    """Run the crowd through a real store with the policy; accuracy of `Project.results()`."""
    classes = [f"c{i}" for i in range(crowd.n_classes)]
    store = SqlStore(str(folder / "quality.sqlite"))
    project = Project.create("sim", "text-class", store=store, classes=classes, overlap=OVERLAP, quality=policy)
    control_truth = rng.integers(0, crowd.n_classes, n_controls)
    frame = pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(len(truth))] + [f"c{i}" for i in range(n_controls)],
            "text": "x",
            "answer": [None] * len(truth) + [classes[c] for c in control_truth],
        }
    )
    project.add_tasks(frame, progress=False)
    true_of = {**{f"t{i}": int(c) for i, c in enumerate(truth)}, **{f"c{i}": int(c) for i, c in enumerate(control_truth)}}
    ids = [store.worker_id(f"w{w}") for w in range(len(crowd.kind))]
    start, active = time.perf_counter(), set(range(len(ids)))
    while active:
        for w in rng.permutation(sorted(active)):
            handed = store.claim(project.info.id, ids[w], 5)
            if not handed:
                active.discard(int(w))
                continue
            for task in handed:
                label, duration = crowd.answer(int(w), true_of[task.external_id], rng)
                try:
                    store.submit(project.info.id, ids[w], Submission(uuid.uuid4().hex, task.id, classes[label], duration))
                except Exception:  # banned mid-batch: the rest of the batch is refused
                    break
    seconds = time.perf_counter() - start
    labels = project.labels()
    regular = [f"t{i}" for i in range(len(truth))]
    expected = np.array([classes[c] for c in truth], dtype=object)
    accuracy = {
        method: float((project.results(method).set_index("task").loc[regular, "label"].to_numpy() == expected).mean())
        for method in ("dawid-skene", "one-coin-dawid-skene")
    }
    standing = project.workers()
    bad = {f"w{w}" for w in np.flatnonzero(crowd.kind != "honest")}
    banned = set(standing.loc[standing["status"] == "banned", "worker"])
    suspended = set(standing.loc[standing["status"] == "suspended", "worker"])
    paid = labels[~labels["worker"].isin(banned) & labels["flag"].isna()]
    store.close()
    return {
        **accuracy,
        "labels_per_task": len(labels) / len(truth),
        "paid_per_task": len(paid) / len(truth),
        "regular_labels_per_task": labels["task"].isin(regular).sum() / len(truth),
        "bad_banned": len(banned & bad) / len(bad),
        "bad_suspended": len(suspended & bad) / len(bad),
        "honest_banned": len(banned - bad) / (len(crowd.kind) - len(bad)),
        "honest_suspended": len(suspended - bad) / (len(crowd.kind) - len(bad)),
        "out_by_accuracy": out_by_accuracy(crowd, banned | suspended),
        "flagged": float(labels["flag"].notna().mean()),
        "seconds": seconds,
    }


def out_by_accuracy(crowd: Crowd, out: set[str]) -> str:
    """Share of the honest workers banned or suspended, by their true accuracy."""
    honest = np.flatnonzero(crowd.kind == "honest")
    parts = []
    for low, high in ((0.60, 0.75), (0.75, 0.85), (0.85, 0.95)):
        band = [w for w in honest if low <= crowd.accuracy[w] < high]
        share = sum(f"w{w}" in out for w in band) / len(band) if band else float("nan")
        parts.append(f"{low:.2f}-{high:.2f}: {share:.0%}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--controls", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    crowd = Crowd.simulate(args.workers, args.classes, rng)
    truth = rng.integers(0, args.classes, args.tasks)
    counts = pd.Series(crowd.kind).value_counts()
    print(
        f"setting: {args.tasks:,} tasks, {args.classes} classes (uniform), {args.workers} workers: "
        f"{counts.get('honest', 0)} honest (accuracy uniform 0.60-0.95), {counts.get('random', 0)} random spammers, "
        f"{counts.get('constant', 0)} constant spammers, {counts.get('fast', 0)} fast random clickers; seed {args.seed}"
    )
    print(f"{'strategy':<52} {'labels/task':>11} {'accuracy':>9}", flush=True)
    for k in (1, 3, 5, 7, 9):
        mv, ds = fixed_overlap(crowd, truth, k, rng)
        print(f"{f'majority vote, overlap {k}':<52} {k:>11.2f} {mv:>9.4f}")
        print(f"{f'Dawid-Skene, overlap {k}':<52} {k:>11.2f} {ds:>9.4f}", flush=True)
    policy = QualityPolicy(
        control_rate=0.01, skill_prior=0.75, prior_weight=6, min_control=5, ban_below=0.5, suspend_below=0.75,
        min_duration_ms=1000, target_confidence=0.999, max_overlap=10,
    )
    with tempfile.TemporaryDirectory() as folder:
        run = dynamic(crowd, truth, policy, args.controls, rng, Path(folder))
    for method in ("dawid-skene", "one-coin-dawid-skene"):
        name = f"controls + dynamic overlap -> {method}"
        print(f"{name:<52} {run['labels_per_task']:>11.2f} {run[method]:>9.4f}")
    best = max(run["dawid-skene"], run["one-coin-dawid-skene"])
    print(
        f"  policy: {policy}\n  {in_words(policy)}\n"
        f"  {args.controls} control tasks; labels/task: all answers incl. control ones "
        f"(regular tasks alone: {run['regular_labels_per_task']:.2f}; paid, i.e. without banned workers' and "
        f"too-fast answers: {run['paid_per_task']:.2f}); spammers and clickers banned: {run['bad_banned']:.0%}, "
        f"suspended: {run['bad_suspended']:.0%}; honest workers banned: {run['honest_banned']:.1%}, "
        f"suspended: {run['honest_suspended']:.1%} (out, by true accuracy: {run['out_by_accuracy']}); "
        f"answers flagged too fast: {run['flagged']:.1%}; "
        f"store run {run['seconds']:.0f} s\n  target 99.9% at <= 4 labels/task (all answers): "
        f"{'MET' if best >= 0.999 and run['labels_per_task'] <= 4 else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
