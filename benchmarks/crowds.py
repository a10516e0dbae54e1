"""Simulated crowds for `aggregation_quality.py`: who the workers are and how they answer.

Pure numpy and seeded: `make(name, n_tasks, n_workers, n_classes, rng)` draws a crowd, its
tasks' true classes and their difficulty; `Crowd.answer` gives one worker's answer to one task
and how long it took. Worker types:

- honest: right with their own accuracy, drawn uniformly in [0.60, 0.95]; a wrong answer goes
  to the other classes by the crowd's error distribution (uniform unless said otherwise);
  ~4 s per answer (lognormal, sigma 0.4).
- random: a spammer answering uniformly at random, at an honest pace.
- constant: a spammer always giving the same class (their own), at an honest pace; in some
  crowds they recognize a share of the control tasks and give the known answer there.
- fast: a clicker answering at random in 150-450 ms.
- colluder: a member of a ring that recognizes 80% of the control tasks (the same ones for all
  members) and gives the known answer there; on any other task every member gives the same
  class, a hash of the task's index shared by the ring, so they agree with each other and with
  the truth only by chance.

Crowds:

- readme: 10% spammers (half random, half constant), 5% fast clickers, the rest honest;
  uniform true classes (the crowd of the benchmark's earlier version).
- imbalance: the readme mix; class 0 is the truth of 60% of the tasks, the others share the
  rest uniformly; honest workers confuse classes 1 and 2: a wrong answer to a task of class 1
  goes to class 2 three times as often as to each other class, and vice versa.
- spammers: 15% constant spammers who recognize half of the control tasks (their own half),
  5% fast clickers, the rest honest.
- churn: the readme mix, three times as many workers in all as are present at once; workers
  arrive in index order, each replacing one who left, and each leaves after labeling a quota
  drawn uniformly from 20-200 tasks; half of them arrive qualified in the education center
  (`qualified`).
- hard: the readme mix; 20% of the tasks are hard: on them an honest worker's accuracy is 25
  points lower (floored at 1 / n_classes), errors still uniform.
- colluders: the readme mix and a colluding ring of 6% of the workers.
- all: everything at once: the imbalance and confusable pair, 20% hard tasks, churn with
  qualified arrivals, 15% constant spammers recognizing half the controls, the 6% ring and 5%
  fast clickers (no random spammers), the rest honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("honest", "random", "constant", "fast", "colluder")
BAD = ("random", "constant", "fast", "colluder")
HONEST_ACCURACY = (0.60, 0.95)
HARD_PENALTY = 0.25
CONFUSION = 3.0  # classes 1 and 2 take each other's errors this many times as often
QUOTA = (20, 200)
CHURN_TOTAL = 3  # workers in all per worker present
RING_RECOGNIZES = 0.8
MASK = 2**64 - 1


@dataclass(frozen=True)
class Mix:
    """The recipe of a crowd: shares of each bad type and the task properties."""

    random: float = 0.05
    constant: float = 0.05
    fast: float = 0.05
    colluder: float = 0.0
    spammer_recognizes: float = 0.0  # share of control tasks a constant spammer knows
    majority: float | None = None  # share of the tasks whose truth is class 0
    confusable: bool = False
    hard: float = 0.0
    churn: bool = False


MIXES = {
    "readme": Mix(),
    "imbalance": Mix(majority=0.6, confusable=True),
    "spammers": Mix(random=0.0, constant=0.15, spammer_recognizes=0.5),
    "churn": Mix(churn=True),
    "hard": Mix(hard=0.2),
    "colluders": Mix(colluder=0.06),
    "all": Mix(
        random=0.0,
        constant=0.15,
        spammer_recognizes=0.5,
        colluder=0.06,
        majority=0.6,
        confusable=True,
        hard=0.2,
        churn=True,
    ),
}
NAMES = tuple(MIXES)


def unit(*keys: int) -> float:
    """A number in [0, 1) fixed by the integer keys (a splitmix64-style hash)."""
    h = 0x9E3779B97F4A7C15
    for key in keys:
        h = ((h ^ (key & MASK)) * 0xBF58476D1CE4E5B9) & MASK
        h ^= h >> 31
        h = (h * 0x94D049BB133111EB) & MASK
        h ^= h >> 29
    return h / 2**64


@dataclass(frozen=True)
class Crowd:
    """Workers (type, accuracy, constant class, arrival) and tasks (truth, difficulty).

    `accuracy` is an honest worker's accuracy on an ordinary task (chance, 1 / n_classes, for
    the others); `errors[t]` is where an honest worker's wrong answers to a task of class t go.
    Workers arrive in index order, `present` at a time, each leaving after `quota` labels
    (None: no churn; everyone is present from the start and stays).
    """

    name: str
    n_classes: int
    truth: np.ndarray
    hard: np.ndarray
    kind: np.ndarray
    accuracy: np.ndarray
    constant: np.ndarray
    recognizes: np.ndarray
    qualified: np.ndarray
    quota: np.ndarray | None
    present: int
    errors: np.ndarray
    ring_key: int

    @property
    def n_workers(self) -> int:
        return len(self.kind)

    @property
    def classes(self) -> list[str]:
        """The class names the store sees."""
        return [f"c{i}" for i in range(self.n_classes)]

    def honest_accuracy(self, worker: int, task_index: int) -> float:
        """An honest worker's chance of being right on this task."""
        accuracy = float(self.accuracy[worker])
        return (
            max(accuracy - HARD_PENALTY, 1 / self.n_classes) if self.hard[task_index] else accuracy
        )

    def true_accuracy(self) -> np.ndarray:
        """Each worker's expected share of right answers over this crowd's tasks, hard ones
        included (honest workers; chance for the others)."""
        hard = float(self.hard.mean())
        lowered = np.maximum(self.accuracy - HARD_PENALTY, 1 / self.n_classes)
        return np.where(
            self.kind == "honest", (1 - hard) * self.accuracy + hard * lowered, self.accuracy
        )

    def answer(
        self, worker: int, task_index: int, truth: int, is_control: bool, rng: np.random.Generator
    ) -> tuple[int, int]:
        """(label, duration in ms) of `worker` on task `task_index` whose true class is `truth`."""
        kind = self.kind[worker]
        if kind == "fast":
            return int(rng.integers(0, self.n_classes)), int(rng.uniform(150, 450))
        duration = int(rng.lognormal(np.log(4000), 0.4))
        if kind == "random":
            return int(rng.integers(0, self.n_classes)), duration
        if kind == "colluder":
            if is_control and unit(self.ring_key, task_index) < RING_RECOGNIZES:
                return truth, duration
            return int(unit(self.ring_key, task_index, 1) * self.n_classes), duration
        if kind == "constant":
            known = is_control and unit(self.ring_key, worker, task_index) < self.recognizes[worker]
            return (truth if known else int(self.constant[worker])), duration
        if rng.random() < self.honest_accuracy(worker, task_index):
            return truth, duration
        return int(rng.choice(self.n_classes, p=self.errors[truth])), duration


def error_matrix(n_classes: int, confusable: bool) -> np.ndarray:
    """Row t: where wrong answers to a task of class t go (zero on the diagonal)."""
    weights = 1.0 - np.eye(n_classes)
    if confusable:
        if n_classes < 3:
            raise ValueError("a confusable pair (classes 1 and 2) needs at least 3 classes")
        weights[1, 2] = weights[2, 1] = CONFUSION
    return weights / weights.sum(axis=1, keepdims=True)


def draw_truth(
    n_tasks: int, n_classes: int, majority: float | None, rng: np.random.Generator
) -> np.ndarray:
    """True classes: uniform, or class 0 on a `majority` share and the others uniform."""
    if majority is None:
        return rng.integers(0, n_classes, n_tasks)
    return np.where(rng.random(n_tasks) < majority, 0, rng.integers(1, n_classes, n_tasks))


def draw_kinds(n_workers: int, mix: Mix, rng: np.random.Generator) -> np.ndarray:
    """Each worker's type, the bad ones at the mix's shares, in random positions."""
    kind = np.full(n_workers, "honest", dtype=object)
    start, order = 0, rng.permutation(n_workers)
    for name, share in (
        ("random", mix.random),
        ("constant", mix.constant),
        ("fast", mix.fast),
        ("colluder", mix.colluder),
    ):
        count = round(share * n_workers)
        kind[order[start : start + count]] = name
        start += count
    return kind


def make(
    name: str, n_tasks: int, n_workers: int, n_classes: int, rng: np.random.Generator
) -> Crowd:
    """The crowd `name` (one of `NAMES`) over `n_tasks` tasks with `n_workers` present at a time."""
    mix = MIXES[name]
    total = CHURN_TOTAL * n_workers if mix.churn else n_workers
    kind = draw_kinds(total, mix, rng)
    honest = kind == "honest"
    return Crowd(
        name=name,
        n_classes=n_classes,
        truth=draw_truth(n_tasks, n_classes, mix.majority, rng),
        hard=rng.random(n_tasks) < mix.hard,
        kind=kind,
        accuracy=np.where(honest, rng.uniform(*HONEST_ACCURACY, total), 1 / n_classes),
        constant=rng.integers(0, n_classes, total),
        recognizes=np.where(kind == "constant", mix.spammer_recognizes, 0.0),
        qualified=rng.random(total) < 0.5 if mix.churn else np.zeros(total, dtype=bool),
        quota=rng.integers(QUOTA[0], QUOTA[1] + 1, total) if mix.churn else None,
        present=n_workers,
        errors=error_matrix(n_classes, mix.confusable),
        ring_key=int(rng.integers(0, 2**62)),
    )
