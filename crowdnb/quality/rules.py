"""A project's quality policy: control-task rate, skill prior, rules for workers, dynamic overlap.

The store applies it at hand-out and submit time (see `Store.claim`, `Store.submit`,
`Store.skip`); the functions here are pure, so they are tested without a store.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Status = Literal["active", "suspended", "banned"]
STATUSES: tuple[Status, ...] = ("active", "suspended", "banned")


@dataclass(frozen=True)
class Track:
    """What is known of a worker's answers: control answers (right ones), and labels on tasks
    that closed with a confident answer under dynamic overlap (agreeing ones)."""

    n_control: int = 0
    n_correct: int = 0
    n_consensus: int = 0
    n_agreed: int = 0


def _bounded(value: float | None) -> bool:
    """Whether a setting is None or a finite number below 2**31 in size (counts, milliseconds
    and skills all are; the store keeps counts in 32-bit columns)."""
    return value is None or (math.isfinite(value) if isinstance(value, float) else True) and abs(value) < 2**31


@dataclass(frozen=True)
class QualityPolicy:
    """How a project keeps its labels trustworthy. Everything is off unless set.

    Parameters
    ----------
    control_rate
        Share of each worker's tasks that are control tasks (tasks with a known answer), spread
        evenly through their stream; each is shown once per worker. With a rate above 0, control
        tasks leave the regular queue, and a worker's first `min_control` tasks are control
        tasks (an entry test, so that the rules below apply early). The task kind decides
        whether an answer is right (`Kind.matches`: equal classes, boxes by IoU, ...).
    skill_prior, prior_weight
        A worker's skill is ``(right + skill_prior * prior_weight) / (answers + prior_weight)``:
        the prior mean until they have answered some. The answers are their control answers
        and, under dynamic overlap, their labels on tasks that closed with a confident answer
        (right: agreeing with it), which measures every worker on many more tasks. The rules
        and dynamic overlap use this one skill (see `Track`).
    min_control
        Control answers needed before `suspend_below` / `ban_below` apply (with a control rate,
        the entry test). Control answers in other projects of the same kind and classes (an
        education-center course, an earlier project) count: a worker who has this many there
        takes no new entry test.
    min_information
        Ban a worker whose labels tell less than this many bits about the truth (the mutual
        information of their confusion matrix, see `crowdnb.quality.model.information`):
        answers at random, always the same class, or unrelated to the truth. A weak but honest
        worker (60% right on five classes: 0.55 bits) keeps working, their labels weighted by
        what they are worth; this is the rule to use with dynamic overlap.
    suspend_below, ban_below
        Skill thresholds, checked after each control answer and each confident close: a
        suspended worker gets no new tasks (their labels still count, in dynamic overlap and in
        results); a banned one also has their labels left out of both, and their task slots
        given to others (never beyond `max_overlap` labels in all). A skill threshold also stops
        weak honest workers, whose labels still carry information: prefer `min_information`,
        and keep `ban_below` for workers below chance (adversarial).
    min_duration_ms
        Answers submitted faster than this are flagged ``too_fast`` (and left out of aggregation).
    max_skips_in_row
        Skips allowed in a row before the worker must label the task in front of them.
    target_confidence, max_overlap
        Dynamic overlap: once a task has as many labels as its overlap, its posterior under the
        crowd model (`crowdnb.quality.model`: each worker's confusion matrix, the project's
        class prior, easy or hard tasks) is computed after each label. At the target the crowd
        has decided the task; below it, the task's overlap grows by one, until `max_overlap`
        labels, or until even that many agreeing labels could not reach the target: then the
        task goes to an inspector (`Project.escalated`, `Project.resolve`) instead of closing
        with a doubtful answer. Single-choice classification kinds only.
    pace_exponent, pace_skill
        Hand-out by what labels are worth: after the entry test, a worker whose labels tell
        fewer bits than those of a one-coin worker of `pace_skill` gets on average
        ``(their bits / its bits) ** pace_exponent`` of the new tasks they ask for (the rest
        carried to their next request), so that more of the work goes to the workers whose
        labels decide a task soonest. Weak honest workers keep working, at a slower pace,
        instead of being suspended. None: no pacing.
    collusion_z, collusion_min_shared
        Collusion: two workers whose answers on the tasks both labeled (at least
        `collusion_min_shared`) agree `collusion_z` standard deviations or more above what their
        confusion matrices explain are flagged (`Project.collusion`); on a task both label,
        only the first one's label counts towards its decision, and neither gains skill from
        it. None: not checked.
    confusion_weight
        How many answers of a true class it takes before a worker's confusion matrix row leans
        more on their answers than on their one-coin skill.
    hard_share, hard_factor
        The prior share of hard tasks, and how much a hard task weakens every worker (their
        matrices raised to this power): good workers disagreeing make a task look hard.
    """

    control_rate: float = 0.0
    skill_prior: float = 0.7
    prior_weight: float = 4.0
    min_control: int = 5
    min_information: float | None = None
    suspend_below: float | None = None
    ban_below: float | None = None
    min_duration_ms: int | None = None
    max_skips_in_row: int | None = None
    target_confidence: float | None = None
    max_overlap: int | None = None
    pace_exponent: float | None = None
    pace_skill: float = 0.9
    collusion_z: float | None = None
    collusion_min_shared: int = 8
    confusion_weight: float = 5.0
    hard_share: float = 0.1
    hard_factor: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):  # stored as JSON and set over HTTP: the types are checked, not assumed
            value, number = getattr(self, f.name), (float,) if "float" in str(f.type) else ()
            allowed = (int, *number) if value is not None or "None" not in str(f.type) else (type(None),)
            if isinstance(value, bool) or not isinstance(value, allowed) or not _bounded(value):
                raise ValueError(f"quality setting {f.name} must be {f.type}, finite and below 2**31, got {value!r}")
        for name in ("min_control", "min_duration_ms", "max_skips_in_row"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"quality setting {name} must not be negative, got {getattr(self, name)}")
        for name in ("suspend_below", "ban_below"):
            if not 0 <= (getattr(self, name) or 0) <= 1:
                raise ValueError(f"quality setting {name} is a skill, between 0 and 1; got {getattr(self, name)}")
        if (self.min_information or 0) < 0 or self.confusion_weight <= 0:
            raise ValueError("min_information must not be negative and confusion_weight must be positive")
        if (self.collusion_z is not None and self.collusion_z <= 0) or self.collusion_min_shared < 1:
            raise ValueError(f"collusion_z must be positive and collusion_min_shared at least 1, got {self.collusion_z}, {self.collusion_min_shared}")
        if (self.pace_exponent or 0) < 0 or not 0 < self.pace_skill < 1:
            raise ValueError(f"pace_exponent must not be negative and pace_skill must be in (0, 1), got {self.pace_exponent}, {self.pace_skill}")
        if not 0 <= self.hard_share < 1 or not 0 < self.hard_factor <= 1:
            raise ValueError(f"hard_share must be in [0, 1) and hard_factor in (0, 1], got {self.hard_share}, {self.hard_factor}")
        if not 0 <= self.control_rate < 1:
            raise ValueError(f"control_rate must be in [0, 1), got {self.control_rate}")
        if not 0 < self.skill_prior < 1 or self.prior_weight <= 0:
            raise ValueError("skill_prior must be in (0, 1) and prior_weight positive")
        if (self.target_confidence is None) != (self.max_overlap is None):
            raise ValueError("dynamic overlap needs both target_confidence and max_overlap")
        if self.target_confidence is not None and not 0 < self.target_confidence < 1:
            raise ValueError(f"target_confidence must be in (0, 1), got {self.target_confidence}")
        if self.max_overlap is not None and self.max_overlap < 1:
            raise ValueError(f"max_overlap must be at least 1, got {self.max_overlap}")

    @property
    def dynamic_overlap(self) -> bool:
        return self.target_confidence is not None

    @property
    def models_workers(self) -> bool:
        """Whether the rules need each worker's confusion matrix (dynamic overlap, or bans
        by information)."""
        return self.dynamic_overlap or self.min_information is not None or self.pace_exponent is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any] | None) -> QualityPolicy:
        """The policy stored with a project (unknown keys are refused by name)."""
        if not stored:
            return cls()
        if not isinstance(stored, dict):
            raise ValueError(f"a quality policy is a mapping of settings, got {stored!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(stored) - known)
        if unknown:
            raise ValueError(f"unknown quality setting(s) {unknown}; known: {sorted(known)}")
        return cls(**stored)

    def skill(self, correct: int, answered: int) -> float:
        """Skill from `correct` right answers out of `answered`, shrunk towards the prior."""
        return (correct + self.skill_prior * self.prior_weight) / (answered + self.prior_weight)

    def worker_skill(self, track: Track) -> float:
        """A worker's skill from all their measured answers (control and consensus)."""
        return self.skill(track.n_correct + track.n_agreed, track.n_control + track.n_consensus)

    def verdict(
        self, track: Track, current: Status = "active", information: float | None = None, *, qualified: bool = False
    ) -> Status:
        """The worker's status after their measured answers (once they have `min_control`
        control answers, or are `qualified` by control answers elsewhere), given what their
        labels tell in bits (`information`, for `min_information`); never milder than `current`."""
        status: Status = "active"
        if track.n_control >= self.min_control or qualified:
            skill = self.worker_skill(track)
            uninformative = self.min_information is not None and information is not None and information < self.min_information
            if uninformative or (self.ban_below is not None and skill < self.ban_below):
                status = "banned"
            elif self.suspend_below is not None and skill < self.suspend_below:
                status = "suspended"
        return max(status, current, key=STATUSES.index)

    def is_too_fast(self, duration_ms: int | None) -> bool:
        return self.min_duration_ms is not None and duration_ms is not None and duration_ms < self.min_duration_ms

    def wants_control(self, controls: int, handed_out: int) -> bool:
        """Whether the next task of a worker who got `handed_out` tasks, `controls` of them
        control tasks, should be a control task: the first `min_control`, then enough to keep
        the share at `control_rate`."""
        if self.control_rate <= 0:
            return False
        return controls < self.min_control or controls < self.control_rate * (handed_out + 1)
