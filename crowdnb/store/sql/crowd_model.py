"""The crowd model's counts in the store: per worker confusion counts and the project's decided
answers per class, read for the few workers of one task and incremented in place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crowdnb import kinds
from crowdnb.aggregation.methods import SINGLE_CHOICE
from crowdnb.quality import model
from crowdnb.quality.rules import QualityPolicy, Track
from crowdnb.store.schema import annotations, class_counts, project_workers, worker_confusion, worker_pairs


def applies(kind: str) -> bool:
    """Whether a kind's labels are single classes, which the crowd model describes."""
    return kinds.get(kind).aggregator in SINGLE_CHOICE


def _upsert(conn: sa.Connection, table: sa.Table, keys: list[str], rows: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    """Add each row's values to its counters (creating the row), in key order so that two
    transactions never wait on each other's rows in opposite orders."""
    if not rows:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    added = next(iter(rows.values())).keys()
    statement = insert.on_conflict_do_update(
        index_elements=keys, set_={name: table.c[name] + insert.excluded[name] for name in added}
    )
    conn.execute(statement, [{**dict(zip(keys, key, strict=True)), **values} for key, values in sorted(rows.items())])


@dataclass
class Crowd:
    """What the store knows of some workers of a project, as the crowd model reads it."""

    project_id: int
    policy: QualityPolicy
    classes: list[Any]
    counts: dict[int, np.ndarray]
    tracks: dict[int, Track]
    decided_counts: np.ndarray

    @classmethod
    def read(
        cls, conn: sa.Connection, project_id: int, project: sa.Row[Any], policy: QualityPolicy,
        worker_ids: Sequence[int], tracks: dict[int, Track],
    ) -> Crowd:
        """The counts of `worker_ids` (with their `tracks`) and the class prior's counts."""
        classes = list(project.config["classes"])
        k = len(classes)
        counts = {w: np.zeros((k, k)) for w in worker_ids}
        if worker_ids:
            c = worker_confusion.c
            found = conn.execute(
                sa.select(c.worker_id, c.truth, c.given, c.n).where(c.project_id == project_id, c.worker_id.in_(set(worker_ids)))
            )
            for worker, truth, given, n in found:
                counts[worker][truth, given] = n
        decided = np.zeros(k)
        for code, n in conn.execute(sa.select(class_counts.c.code, class_counts.c.n).where(class_counts.c.project_id == project_id)):
            decided[code] = n
        return cls(project_id, policy, classes, counts, dict(tracks), decided)

    @classmethod
    def read_all(cls, conn: sa.Connection, project_id: int, project: sa.Row[Any], policy: QualityPolicy) -> Crowd:
        """Every worker with a standing in the project."""
        pw = project_workers.c
        standing = conn.execute(
            sa.select(pw.worker_id, pw.n_control, pw.n_correct, pw.n_consensus, pw.n_agreed).where(pw.project_id == project_id)
        ).all()
        tracks = {r.worker_id: Track(r.n_control, r.n_correct, r.n_consensus, r.n_agreed) for r in standing}
        labelers = conn.scalars(sa.select(annotations.c.worker_id).where(annotations.c.project_id == project_id).distinct())
        return cls.read(conn, project_id, project, policy, sorted(set(tracks) | set(labelers)), tracks)

    def code(self, label: Any) -> int:
        return self.classes.index(label)

    @property
    def prior(self) -> np.ndarray:
        return model.class_prior(self.decided_counts)

    def matrix(self, worker_id: int) -> np.ndarray:
        """The worker's confusion matrix, shrunk toward their one-coin skill."""
        skill = self.policy.worker_skill(self.tracks.get(worker_id, Track()))
        return model.confusion(self.counts[worker_id], skill, self.policy.confusion_weight)

    def information(self, worker_id: int) -> float:
        """Bits one label of the worker tells about the truth."""
        return model.information(self.matrix(worker_id), self.prior)

    def posterior(self, labels: Iterable[tuple[int, Any]]) -> model.Posterior:
        """The posterior of a task from its (worker id, label) pairs."""
        pairs = list(labels)
        return model.posterior(
            [self.code(label) for _, label in pairs], self._matrices(pairs), self.prior,
            self.policy.hard_share, self.policy.hard_factor,
        )

    def reachable(self, labels: Iterable[tuple[int, Any]], remaining: int) -> bool:
        """Whether `remaining` more labels could still bring the task to the target."""
        pairs = list(labels)
        assert self.policy.target_confidence is not None
        typical = model.one_coin(self.policy.skill_prior, len(self.classes))
        return model.reachable(
            [self.code(label) for _, label in pairs], self._matrices(pairs), self.prior, self.policy.hard_share,
            self.policy.hard_factor, remaining, typical, self.policy.target_confidence,
        )

    def _matrices(self, pairs: list[tuple[int, Any]]) -> np.ndarray:
        k = len(self.classes)
        return np.array([self.matrix(w) for w, _ in pairs]).reshape(len(pairs), k, k)

    def count(self, conn: sa.Connection, answers: Iterable[tuple[int, Any, Any]]) -> None:
        """Count (worker id, truth, answer given) triples, in the store and here."""
        rows: Counter[tuple[int, int, int, int]] = Counter()
        for worker, truth, given in answers:
            t, g = self.code(truth), self.code(given)
            rows[(self.project_id, worker, t, g)] += 1
            self.counts[worker][t, g] += 1
        _upsert(conn, worker_confusion, ["project_id", "worker_id", "truth", "given"], {key: {"n": n} for key, n in rows.items()})

    def decided(self, conn: sa.Connection, answer: Any) -> None:
        """Count a decided answer towards the class prior."""
        code = self.code(answer)
        self.decided_counts[code] += 1
        _upsert(conn, class_counts, ["project_id", "code"], {(self.project_id, code): {"n": 1}})

    def record_pairs(self, conn: sa.Connection, labels: Sequence[tuple[int, Any]]) -> None:
        """Count a decided task towards each pair of its labelers: shared, agreed, and the
        agreement their matrices expect."""
        rows = {}
        for i, (a, label_a) in enumerate(labels):
            for b, label_b in labels[i + 1 :]:
                if a == b:
                    continue
                p = model.agreement_chance(self.matrix(a), self.matrix(b), self.prior)
                rows[(self.project_id, min(a, b), max(a, b))] = {
                    "shared": 1, "agreed": int(label_a == label_b), "expected": p, "variance": p * (1 - p),
                }
        _upsert(conn, worker_pairs, ["project_id", "first", "second"], rows)

    def colluding(self, conn: sa.Connection, worker_ids: Sequence[int]) -> set[frozenset[int]]:
        """The pairs among `worker_ids` whose agreement lies `collusion_z` standard deviations
        or more above what their skills explain, over at least `collusion_min_shared` tasks."""
        if self.policy.collusion_z is None or len(set(worker_ids)) < 2:
            return set()
        p = worker_pairs.c
        found = conn.execute(
            sa.select(p.first, p.second, p.shared, p.agreed, p.expected, p.variance).where(
                p.project_id == self.project_id, p.first.in_(set(worker_ids)), p.second.in_(set(worker_ids)),
                p.shared >= self.policy.collusion_min_shared,
            )
        )
        return {
            frozenset((r.first, r.second)) for r in found
            if model.collusion_z(r.shared, r.agreed, r.expected, r.variance) >= self.policy.collusion_z
        }
