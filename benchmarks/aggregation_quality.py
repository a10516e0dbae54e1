"""Aggregation quality: accuracy against labels paid for, on several simulated crowds.

    python benchmarks/aggregation_quality.py [--tasks 5000] [--workers 200] [--classes 5]
        [--controls 100] [--seeds 3] [--crowds readme,imbalance,spammers,churn,hard,colluders,all]
        [--inspect/--no-inspect] [--baselines]

The crowds (readme, imbalance, spammers, churn, hard, colluders, all) are described in
`crowds.py`. Each crowd and seed runs through a fresh real store (a SQLite file in a temporary
directory, durable commits) with the project's policy (`policy_for`, printed in words): workers,
in random order, claim 5 tasks at a time and submit each with its duration; a submit refused
because the worker was banned mid-batch ends that batch; a worker who gets no task leaves. In
crowds with churn, a worker also leaves once their quota is labeled and the next one arrives in
their place; a qualified arrival first answers 10 control tasks in a separate "training"
project in the same store. Then a simulated inspector (right 99% of the time, errors uniform)
decides every task that dynamic overlap escalated (`--no-inspect` skips this), and the default
aggregation of `Project.results()` is scored on the regular tasks. Runs go two at a time in
separate processes; a row prints as each finishes, then the table in order.

Columns:
- accuracy: share of the regular tasks whose result is the true class;
- labels/task: every answer given on the project (control answers and those of workers banned
  later included, the training project's left out) plus the inspector's decisions, per regular
  task; controls/task: the control answers among them;
- escalated: share of the regular tasks sent to the inspector ("-" without `--inspect`);
- honest out: share of the honest workers who took part that ended suspended or banned;
  honest>.60 out: the same among those whose true accuracy over the crowd's tasks (hard ones
  included) is above 0.60;
- bad banned: share of the spammers, clickers and colluders who took part that ended banned;
- seconds: the run's time (store, inspector and aggregation); load: the 1-minute load average
  at its end;
- verdict: MET when accuracy >= 0.999, labels/task <= 4.0 (3.5 on readme) and honest>.60 out < 10%.

`--baselines` adds, for the readme crowd, majority vote and Dawid-Skene with a fixed overlap k
(k distinct random workers per task, in memory).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace

import crowds
import numpy as np
import pandas as pd
from crowds import Crowd

from crowdnb import Project, SqlStore
from crowdnb.aggregation import DawidSkene, MajorityVote
from crowdnb.errors import Conflict
from crowdnb.quality import model
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import Submission

OVERLAP = 2  # every task needs two labels at least: one never reaches the target
BATCH = 5
TRAINING_ANSWERS = 10
INSPECTOR_ACCURACY = 0.99
TARGET_ACCURACY = 0.999
MAX_LABELS = {"readme": 3.5}
DEFAULT_MAX_LABELS = 4.0
MAX_STRONG_OUT = 0.10
KIND = "text-class"


def policy_for(n_classes: int) -> QualityPolicy:
    """The project's quality policy (the one place to tune it): ban below chance skill."""
    return QualityPolicy(
        control_rate=0.01,
        skill_prior=0.75,
        prior_weight=6,
        min_control=5,
        ban_below=1.5 / n_classes,
        min_information=0.15,
        min_duration_ms=1000,
        target_confidence=0.999,
        max_overlap=10,
        pace_exponent=4.0,
        pace_skill=0.9,
        collusion_z=4.0,
        hard_share=0.05,
    )


def in_words(policy: QualityPolicy) -> str:
    """The policy as a user would read it."""
    suspend = (
        f", below {policy.suspend_below} suspended (no new tasks, labels kept)"
        if policy.suspend_below
        else ""
    )
    prior, weight = policy.skill_prior, f"{policy.prior_weight:g}"
    return (
        f"overlap {OVERLAP} to start; each worker's first {policy.min_control} tasks are control "
        f"tasks (the entry test; control answers in a project of the same classes count), then "
        f"{policy.control_rate:.0%} of their tasks; each worker has a confusion matrix from control "
        f"answers and labels on decided tasks, shrunk toward a one-coin skill (prior {prior}, "
        f"weight {weight}); after the entry test, a worker whose labels tell less than "
        f"{policy.min_information} bits about the truth, or whose skill is below {policy.ban_below:.2f}, "
        f"is banned (labels dropped){suspend}; answers under {policy.min_duration_ms} ms are flagged "
        f"and not used; a task gets one more label until its posterior (confusion matrices, class "
        f"prior, {policy.hard_share:.0%} of tasks hard) reaches {policy.target_confidence}; with "
        f"{policy.max_overlap} labels, or when even that many agreeing ones could not reach it, an "
        f"inspector decides; after the entry test, a worker whose labels tell fewer bits than a "
        f"{policy.pace_skill:.0%}-right worker's gets (their bits / its bits) ** "
        f"{policy.pace_exponent:g} of the tasks they ask for; two workers agreeing "
        f"{policy.collusion_z:g} standard deviations above what their skills explain (over "
        f"{policy.collusion_min_shared}+ shared tasks) count once where both label"
    )


@dataclass(frozen=True)
class Options:
    """The sizes of a run and whether the inspector step runs."""

    tasks: int
    workers: int
    classes: int
    controls: int
    inspect: bool


@dataclass(frozen=True)
class Layout:
    """Where the regular, control and training tasks sit among a crowd's task indices."""

    tasks: int
    controls: int

    @property
    def total(self) -> int:
        return self.tasks + self.controls + TRAINING_ANSWERS

    def ids(self, kind: str) -> list[str]:
        """External ids: t (regular), c (control) or e (training), in index order."""
        count = {"t": self.tasks, "c": self.controls, "e": TRAINING_ANSWERS}[kind]
        return [f"{kind}{i}" for i in range(count)]

    def index_of(self) -> dict[str, int]:
        """A task's index in the crowd from its external id."""
        ids = self.ids("t") + self.ids("c") + self.ids("e")
        return {task: i for i, task in enumerate(ids)}


@dataclass(frozen=True)
class Row:
    """One crowd and seed's outcome (see the module docstring for each column)."""

    crowd: str
    seed: int
    accuracy: float
    labels_per_task: float
    controls_per_task: float
    escalated: float | None
    honest_out: float
    strong_out: float
    bad_banned: float
    seconds: float
    load: float

    @property
    def met(self) -> bool:
        return (
            self.accuracy >= TARGET_ACCURACY
            and self.labels_per_task <= MAX_LABELS.get(self.crowd, DEFAULT_MAX_LABELS)
            and self.strong_out < MAX_STRONG_OUT
        )

    def line(self) -> str:
        """The row as the table prints it."""
        escalated = "-" if self.escalated is None else f"{self.escalated:.2%}"
        cells = (
            self.crowd,
            str(self.seed),
            f"{self.accuracy:.4f}",
            f"{self.labels_per_task:.2f}",
            f"{self.controls_per_task:.3f}",
            escalated,
            f"{self.honest_out:.1%}",
            f"{self.strong_out:.1%}",
            f"{self.bad_banned:.0%}",
            f"{self.seconds:.0f}",
            f"{self.load:.1f}",
            "MET" if self.met else "NOT MET",
        )
        return cells_line(cells)


COLUMNS = (
    "crowd",
    "seed",
    "accuracy",
    "labels/task",
    "controls/task",
    "escalated",
    "honest out",
    "honest>.60 out",
    "bad banned",
    "seconds",
    "load",
    "verdict",
)


def cells_line(cells: tuple[str, ...]) -> str:
    """Cells under the column titles: the crowd left-aligned, the others right."""
    first, *rest = zip(cells, COLUMNS)
    return " ".join([f"{first[0]:<10}", *(f"{cell:>{len(title)}}" for cell, title in rest)])


HEADER = cells_line(COLUMNS)


def add_project(
    store: SqlStore, name: str, crowd: Crowd, policy: QualityPolicy, frame: pd.DataFrame
) -> Project:
    """A text-class project over the crowd's classes with the tasks of `frame`."""
    project = Project.create(
        name, KIND, store=store, classes=crowd.classes, overlap=OVERLAP, quality=policy
    )
    project.add_tasks(frame, progress=False)
    return project


def task_frame(crowd: Crowd, layout: Layout, kinds: str) -> pd.DataFrame:
    """The tasks of the given id kinds ("tc": regular and control), known answers for controls."""
    index_of = layout.index_of()
    ids = [task for kind in kinds for task in layout.ids(kind)]
    answers = [
        None if task[0] == "t" else crowd.classes[crowd.truth[index_of[task]]] for task in ids
    ]
    return pd.DataFrame({"id": ids, "text": "x", "answer": answers})


def label_batch(
    store: SqlStore,
    project: Project,
    crowd: Crowd,
    worker: int,
    worker_id: int,
    n: int,
    index_of: dict[str, int],
    rng: np.random.Generator,
) -> list[str] | None:
    """Claim up to `n` tasks for a worker and answer them; the ids of those answered, or None
    when none was handed out. A refused submit (banned mid-batch) ends the batch."""
    handed = store.claim(project.info.id, worker_id, n)
    if not handed:
        return None
    answered = []
    for task in handed:
        index = index_of[task.external_id]
        is_control = task.external_id[0] != "t"
        label, duration = crowd.answer(worker, index, int(crowd.truth[index]), is_control, rng)
        submission = Submission(uuid.uuid4().hex, task.id, crowd.classes[label], duration)
        try:
            store.submit(project.info.id, worker_id, submission)
        except Conflict:
            break
        answered.append(task.external_id)
    return answered


def drive(
    store: SqlStore,
    project: Project,
    crowd: Crowd,
    index_of: dict[str, int],
    rng: np.random.Generator,
    train: Callable[[int, int], None],
) -> list[int]:
    """Run the crowd on the project until two rounds in a row hand out no regular task; returns the
    workers who took part. `crowd.present` workers at a time: one who has labeled their quota
    leaves, and the next arrives (a qualified one trained first). A worker who gets nothing
    stays: under a paced policy a weaker worker waits for their share of the work."""
    arrivals: Iterator[int] = iter(range(crowd.n_workers))
    ids: dict[int, int] = {}
    done = np.zeros(crowd.n_workers, dtype=int)
    active: set[int] = set()

    def arrive() -> None:
        worker = next(arrivals, None)
        if worker is not None:
            ids[worker] = store.worker_id(f"w{worker}")
            if crowd.qualified[worker]:
                train(worker, ids[worker])
            active.add(worker)

    for _ in range(crowd.present):
        arrive()
    idle = 0  # rounds in a row that handed out no regular task (the first: the entry test)
    while active and idle < 2:
        regular = 0
        for worker in (int(w) for w in rng.permutation(sorted(active))):
            room = (
                BATCH
                if crowd.quota is None
                else min(BATCH, int(crowd.quota[worker] - done[worker]))
            )
            answered = label_batch(store, project, crowd, worker, ids[worker], room, index_of, rng)
            done[worker] += len(answered or ())
            regular += sum(task[0] == "t" for task in answered or ())
            if crowd.quota is not None and done[worker] >= crowd.quota[worker]:
                active.discard(worker)
                arrive()
        idle = 0 if regular else idle + 1
    return sorted(ids)


def inspect(
    project: Project, crowd: Crowd, truth_of: dict[str, int], rng: np.random.Generator
) -> int:
    """A simulated inspector (right with probability 0.99, errors uniform) decides every task
    dynamic overlap escalated; returns how many."""
    escalated = project.escalated()
    for task in escalated["task"]:
        truth = truth_of[task]
        label = (
            truth
            if rng.random() < INSPECTOR_ACCURACY
            else (truth + int(rng.integers(1, crowd.n_classes))) % crowd.n_classes
        )
        project.resolve(task, crowd.classes[label])
    return len(escalated)


def share(members: np.ndarray, among: np.ndarray) -> float:
    """Share of the workers `among` (a mask) that are in `members` (a mask); NaN if none."""
    return float(members[among].mean()) if among.any() else float("nan")


def run(name: str, seed: int, options: Options) -> Row:
    """One crowd and seed through a fresh store; its table row."""
    start = time.perf_counter()
    rng = np.random.default_rng([seed, crowds.NAMES.index(name)])
    layout = Layout(options.tasks, options.controls)
    crowd = crowds.make(name, layout.total, options.workers, options.classes, rng)
    index_of = layout.index_of()
    policy = policy_for(options.classes)
    with tempfile.TemporaryDirectory(
        dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    ) as folder:
        store = SqlStore(os.path.join(folder, "quality.sqlite"))
        project = add_project(store, "sim", crowd, policy, task_frame(crowd, layout, "tc"))
        training = add_project(
            store,
            "training",
            crowd,
            replace(policy, min_control=TRAINING_ANSWERS),
            task_frame(crowd, layout, "e"),
        )

        def train(worker: int, worker_id: int) -> None:
            label_batch(store, training, crowd, worker, worker_id, TRAINING_ANSWERS, index_of, rng)

        took_part = np.zeros(crowd.n_workers, dtype=bool)
        took_part[drive(store, project, crowd, index_of, rng, train)] = True
        truth_of = {task: int(crowd.truth[i]) for task, i in index_of.items()}
        resolved = inspect(project, crowd, truth_of, rng) if options.inspect else 0
        answers = project.labels(["task"])
        regular = layout.ids("t")
        found = project.results().set_index("task").loc[regular, "label"].to_numpy()
        expected = np.array([crowd.classes[c] for c in crowd.truth[: layout.tasks]], dtype=object)
        standing = project.workers().set_index("worker")["status"]
        store.close()
    status = np.array(
        [standing.get(f"w{w}", "active") for w in range(crowd.n_workers)], dtype=object
    )
    out, banned = status != "active", status == "banned"
    honest = (crowd.kind == "honest") & took_part
    return Row(
        crowd=name,
        seed=seed,
        accuracy=float((found == expected).mean()),
        labels_per_task=(len(answers) + resolved) / layout.tasks,
        controls_per_task=float(answers["task"].isin(layout.ids("c")).sum()) / layout.tasks,
        escalated=resolved / layout.tasks if options.inspect else None,
        honest_out=share(out, honest),
        strong_out=share(out, honest & (crowd.true_accuracy() > 0.60)),
        bad_banned=share(banned, (crowd.kind != "honest") & took_part),
        seconds=time.perf_counter() - start,
        load=os.getloadavg()[0],
    )


def fixed_overlap(
    crowd: Crowd, n_tasks: int, k: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Accuracy of majority vote and Dawid-Skene with k random workers per regular task."""
    rows = []
    for task in range(n_tasks):
        for worker in rng.choice(crowd.n_workers, k, replace=False):
            rows.append(
                (
                    task,
                    int(worker),
                    crowd.answer(int(worker), task, int(crowd.truth[task]), False, rng)[0],
                )
            )
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    truth = crowd.truth[:n_tasks]
    mv = MajorityVote().fit_predict(answers).sort_index().to_numpy()
    ds = DawidSkene().fit_predict(answers).sort_index().to_numpy()
    return float((mv == truth).mean()), float((ds == truth).mean())


def baselines(options: Options, seeds: list[int]) -> None:
    """Fixed-overlap rows for the readme crowd, one accuracy per seed."""
    print(f"\nfixed overlap on the readme crowd (in memory), accuracy on seeds {seeds}:")
    for k in (1, 3, 5, 7, 9):
        results = []
        for seed in seeds:
            rng = np.random.default_rng([seed, crowds.NAMES.index("readme")])
            crowd = crowds.make(
                "readme",
                Layout(options.tasks, options.controls).total,
                options.workers,
                options.classes,
                rng,
            )
            results.append(fixed_overlap(crowd, options.tasks, k, rng))
        for method, i in (("majority vote", 0), ("Dawid-Skene", 1)):
            print(
                f"  {method}, overlap {k}: " + " / ".join(f"{r[i]:.4f}" for r in results),
                flush=True,
            )
    print("the stopping rule with every honest worker's true accuracy known (labels/task, accuracy):")
    for exponent in (None, 2.0, 4.0, 8.0):
        bounds = []
        for seed in seeds:
            rng = np.random.default_rng([seed, crowds.NAMES.index("readme")])
            crowd = crowds.make("readme", Layout(options.tasks, options.controls).total, options.workers, options.classes, rng)
            bounds.append(oracle(crowd, min(options.tasks, 3000), exponent, rng))
        hand_out = "uniform hand-out" if exponent is None else f"paced, exponent {exponent:g}"
        print(f"  {hand_out}: " + " / ".join(f"{b[0]:.2f}, {b[1]:.4f}" for b in bounds), flush=True)


def oracle(crowd: Crowd, n_tasks: int, exponent: float | None, rng: np.random.Generator) -> tuple[float, float]:
    """Labels per task and accuracy of the stopping rule when every honest worker's accuracy
    is known and nothing goes to control tasks, spammers or inspectors: the floor any rule
    faces on this crowd. Each task takes labels from honest workers drawn at random (in
    proportion to ``min(1, bits / bits of a 90% worker) ** exponent`` when paced) until its
    posterior reaches 0.999, or 10 labels."""
    honest = np.flatnonzero(crowd.kind == "honest")
    k = crowd.n_classes
    prior = np.full(k, 1 / k)
    matrices = np.array([model.one_coin(float(crowd.accuracy[w]), k) for w in honest])
    weights = np.ones(len(honest))
    if exponent is not None:
        reference = model.information(model.one_coin(0.9, k), prior)
        bits = np.array([model.information(m, prior) for m in matrices])
        weights = np.minimum(1.0, bits / reference) ** exponent
    labels, right = 0, 0
    for task in range(n_tasks):
        truth = int(crowd.truth[task])
        drawn = rng.choice(len(honest), size=10, replace=False, p=weights / weights.sum())
        given = [crowd.answer(int(honest[i]), task, truth, False, rng)[0] for i in drawn]
        for n in range(2, 11):
            now = model.posterior(given[:n], matrices[drawn[:n]], prior, 0.0, 1.0)
            if now.confidence >= 0.999:
                break
        labels += n
        right += now.best == truth
    return labels / n_tasks, right / n_tasks


def summary(rows: list[Row], names: list[str]) -> bool:
    """One line per crowd (worst accuracy and labels per task over seeds) and the verdict."""
    print()
    for name in names:
        mine = [r for r in rows if r.crowd == name]
        met = all(r.met for r in mine)
        accuracy = min(r.accuracy for r in mine)
        labels = max(r.labels_per_task for r in mine)
        strong = max(r.strong_out for r in mine)
        print(
            f"{name:<10} min accuracy {accuracy:.4f}, max labels/task {labels:.2f}, "
            f"max honest>.60 out {strong:.1%}: {'MET' if met else 'NOT MET'}"
        )
    overall = all(r.met for r in rows)
    print(f"overall: {'MET' if overall else 'NOT MET'}")
    return overall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--controls", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--crowds", default=",".join(crowds.NAMES))
    parser.add_argument("--inspect", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--baselines", action="store_true")
    args = parser.parse_args()
    names = args.crowds.split(",")
    unknown = sorted(set(names) - set(crowds.NAMES))
    if unknown:
        parser.error(f"unknown crowd(s) {unknown}; known: {', '.join(crowds.NAMES)}")
    options = Options(args.tasks, args.workers, args.classes, args.controls, args.inspect)
    print(
        f"{args.tasks:,} tasks, {args.controls} control tasks, {args.classes} classes, "
        f"{args.workers} workers present; seeds 0-{args.seeds - 1}; "
        f"inspector {'on' if args.inspect else 'off'}\n"
        f"policy: {policy_for(args.classes)}\n  {in_words(policy_for(args.classes))}\n\n{HEADER}",
        flush=True,
    )
    rows = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        jobs = [(name, seed) for name in names for seed in range(args.seeds)]
        jobs.sort(key=lambda job: not crowds.MIXES[job[0]].churn)  # the longest runs first
        futures = [pool.submit(run, name, seed, options) for name, seed in jobs]
        for future in as_completed(futures):
            rows.append(future.result())
            print(rows[-1].line(), flush=True)
    rows.sort(key=lambda r: (names.index(r.crowd), r.seed))
    print(f"\n{HEADER}\n" + "\n".join(r.line() for r in rows))
    summary(rows, names)
    if args.baselines:
        baselines(options, list(range(args.seeds)))


if __name__ == "__main__":
    main()
