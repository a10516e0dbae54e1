"""The plain claim and submit on PostgreSQL (one statement each, grouped across threads): taken
in the plain case only, and the store ends in the same state as with the general path alone."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from crowdnb.errors import Conflict, LabelError, ValidationError
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import NewTask, SqlStore, Submission
from crowdnb.store.sql.postgres import PlainLabel, PlainPath

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_cluster: Any) -> Iterator[SqlStore]:
    with SqlStore(pg_cluster.new_database()) as store:
        yield store


def _project(store: SqlStore, *, overlap: int = 2, price: int = 0, review_rate: float = 0.0) -> int:
    info = store.create_project("p", "text-class", {"classes": ["a", "b"]}, overlap=overlap, price=price)
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(6)])
    if review_rate:
        store.set_review(info.id, review_rate)
    return info.id


def _plain(store: SqlStore) -> PlainPath:
    assert store._plain is not None
    return store._plain


def _label(task_id: int, annotation_id: str, label: Any = "a") -> PlainLabel:
    return PlainLabel(task_id, annotation_id, label, 900, 0.5)


def test_plain_claim_serves_a_plain_worker_and_renews_held_leases(pg: SqlStore) -> None:
    pid, ana = _project(pg), pg.worker_id("ana")
    first = _plain(pg).claim(pid, ana, 2, [])
    assert first is not None and [row[1] for row in first] == ["t0", "t1"]
    held = [row[0] for row in first]
    again = _plain(pg).claim(pid, ana, 2, held)
    assert again is not None and [row[1] for row in again] == ["t2", "t3"]


def test_plain_claim_steps_aside_for_every_other_case(pg: SqlStore) -> None:
    pid, ana, ben = _project(pg), pg.worker_id("ana"), pg.worker_id("ben")
    pg.claim(pid, ana, 1)
    assert _plain(pg).claim(pid, ana, 1, []) is None  # a lease of hers she did not say she holds
    pg.set_worker_status(pid, ben, "suspended")
    assert _plain(pg).claim(pid, ben, 1, []) is None
    pg.set_worker_status(pid, ben, "active")
    pg.set_quality(pid, QualityPolicy(min_duration_ms=100))
    assert _plain(pg).claim(pid, ben, 1, []) is None
    pg.set_quality(pid, None)
    with pg.engine.begin() as conn:  # ana's lease ran out: the general path sweeps it first
        conn.execute(sa.text("UPDATE assignments SET expires_at = now() - interval '1 second'"))
    assert _plain(pg).claim(pid, ben, 1, []) is None
    assert [t.external_id for t in pg.claim(pid, ben, 1)] == ["t0"]


def test_plain_submit_needs_a_live_lease_and_a_new_annotation_id(pg: SqlStore) -> None:
    pid, ana = _project(pg), pg.worker_id("ana")
    task = pg.claim(pid, ana, 1)[0]
    assert _plain(pg).submit(pid, ana, [_label(task.id, "x1")])[0] is not None
    assert _plain(pg).submit(pid, ana, [_label(task.id, "x1")]) == [None]  # a retry: the general path answers
    assert pg.submit(pid, ana, Submission("x1", task.id, "a")).duplicate
    other = pg.claim(pid, ana, 1)[0]
    pg.skip(pid, ana, other.id)
    assert _plain(pg).submit(pid, ana, [_label(other.id, "x2")]) == [None]  # no lease any more


def test_plain_submit_steps_aside_for_a_worker_who_is_not_active(pg: SqlStore) -> None:
    pid, ana = _project(pg, price=5), pg.worker_id("ana")
    task = pg.claim(pid, ana, 1)[0]
    with pg.engine.begin() as conn:  # banned while her lease stands (a ban racing her claim)
        conn.execute(sa.text("INSERT INTO project_workers (project_id, worker_id, status) VALUES (:p, :w, 'banned')"),
                     {"p": pid, "w": ana})
    assert _plain(pg).submit(pid, ana, [_label(task.id, "x1")]) == [None]
    with pytest.raises(Conflict, match="banned"):
        pg.submit(pid, ana, Submission("x1", task.id, "a"))
    assert pg.balance(ana) == 0


def test_a_batch_is_all_or_nothing_on_the_plain_path(pg: SqlStore) -> None:
    pid, ana = _project(pg), pg.worker_id("ana")
    first, second, third = pg.claim(pid, ana, 3)
    pg.submit(pid, ana, Submission("used", first.id, "a"))
    batch = [_label(second.id, "fresh"), _label(third.id, "used")]  # the second one's id is taken
    assert _plain(pg).submit(pid, ana, batch) == [None, None]
    assert pg.labels(pid)["annotation_id"].tolist() == ["used"]


def test_concurrent_submits_share_transactions_and_all_are_stored(pg: SqlStore) -> None:
    pid = _project(pg, overlap=3, price=2)
    pg.insert_tasks(pid, [NewTask(f"u{i}", {"text": "more"}) for i in range(10)])
    workers = [pg.worker_id(f"w{i}") for i in range(12)]
    held = {worker: pg.claim(pid, worker, 4) for worker in workers}
    gate = threading.Barrier(len(workers))
    receipts: dict[int, list[Any]] = {}

    def label(worker: int) -> None:
        gate.wait()
        receipts[worker] = [pg.submit(pid, worker, Submission(f"{worker}-{t.id}", t.id, "a")) for t in held[worker]]

    threads = [threading.Thread(target=label, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = pg.labels(pid)
    assert len(stored) == 48 == sum(len(r) for r in receipts.values())
    assert set(stored["annotation_id"]) == {r.annotation_id for rs in receipts.values() for r in rs}
    assert _plain(pg)._labels.groups < 48  # several labels per transaction
    assert all(pg.balance(worker) == 8 for worker in workers)  # paid once per label


def test_a_group_leaves_repeats_to_the_general_path(pg: SqlStore) -> None:
    pid, ana, ben = _project(pg), pg.worker_id("ana"), pg.worker_id("ben")
    (a1,), (b1,) = pg.claim(pid, ana, 1), pg.claim(pid, ben, 1)
    items = [(pid, ana, _label(a1.id, "k1")), (pid, ben, _label(b1.id, "k1")), (pid, ana, _label(a1.id, "k2"))]
    first, *repeats = _plain(pg)._write_labels(items)  # one id twice; one worker and task twice
    assert first is not None and repeats == [None, None]
    assert pg.labels(pid)["annotation_id"].tolist() == ["k1"]
    assert isinstance(pg.submit_many(pid, ben, [Submission("k1", b1.id, "a")])[0], Conflict)


def test_a_label_the_group_statement_cannot_take_is_stored_by_the_general_path(pg: SqlStore) -> None:
    pid, ana = _project(pg), pg.worker_id("ana")
    first, second = pg.claim(pid, ana, 2)
    odd = Submission("odd", first.id, "a", 900.4)  # type: ignore[arg-type]  # not an int
    assert _plain(pg)._write_labels([(pid, ana, _label(second.id, "fine")), (pid, ana, PlainLabel(first.id, "odd", "a", 900.4, 0.5))]) == [None, None]  # type: ignore[arg-type]
    assert not pg.submit(pid, ana, odd).duplicate
    with pytest.raises(ValidationError, match="field 'annotation_id': 66 characters; an annotation id has 1 to 64"):
        pg.submit(pid, ana, Submission("y" * 64 + "  ", second.id, "b"))  # PostgreSQL would trim it to 64
    with pytest.raises(ValidationError, match="field 'annotation_id': 0 characters"):
        pg.submit(pid, ana, Submission("", second.id, "b"))
    assert pg.labels(pid).set_index("annotation_id").loc["odd", "duration_ms"] == 900


def test_submit_many_answers_each_label_and_loses_none(pg: SqlStore) -> None:
    pid, ana = _project(pg, overlap=1), pg.worker_id("ana")
    tasks = pg.claim(pid, ana, 4)
    pg.submit(pid, ana, Submission("early", tasks[0].id, "a"))
    outcomes = pg.submit_many(pid, ana, [
        Submission("early", tasks[0].id, "a"),  # a retry
        Submission("n1", tasks[1].id, "b"),
        Submission("bad", tasks[2].id, "zebra"),
        Submission("n3", tasks[3].id, "a"),
        Submission("early", tasks[3].id, "a"),  # an id used for another label
    ])
    assert [type(o).__name__ for o in outcomes] == ["Receipt", "Receipt", "LabelError", "Receipt", "Conflict"]
    assert outcomes[0].duplicate and not outcomes[1].duplicate  # type: ignore[union-attr]
    assert isinstance(outcomes[2], LabelError) and "zebra" in str(outcomes[2])
    assert isinstance(outcomes[4], Conflict)
    assert sorted(pg.labels(pid)["annotation_id"]) == ["early", "n1", "n3"]


def _session(store: SqlStore) -> dict[str, Any]:
    """A fixed sequence of claims, submits, a retry, a skip and a batch; returns the store's
    state afterwards, without ids or times."""
    pid = _project(store, overlap=2, price=3, review_rate=0.5)
    ana, ben, cai = (store.worker_id(n) for n in ("ana", "ben", "cai"))
    done = {}
    for worker in (ana, ben):
        for i, task in enumerate(store.claim(pid, worker, 3)):
            done[worker, i] = Submission(f"{worker}-{i}", task.id, "ab"[i % 2], 1000)
            store.submit(pid, worker, done[worker, i])
    store.submit(pid, ana, done[ana, 0])  # a retry
    held = store.claim(pid, cai, 4)
    store.skip(pid, cai, held[0].id)
    store.submit_many(pid, cai, [Submission(f"c{i}", t.id, "b", 1000) for i, t in enumerate(held[1:])])
    labels = store.labels(pid)[["task", "worker", "label", "status", "annotation_id"]]
    with store.engine.connect() as conn:
        slots = conn.execute(sa.text(
            "SELECT t.external_id, w.name, a.status FROM assignments a JOIN tasks t ON t.id = a.task_id"
            " JOIN workers w ON w.id = a.worker_id ORDER BY 1, 2"
        )).all()
        queue = conn.execute(sa.text("SELECT external_id, n_active, is_open FROM tasks ORDER BY position")).all()
    return {
        "labels": sorted(map(tuple, labels.to_numpy().tolist())),
        "slots": [tuple(r) for r in slots],
        "queue": [tuple(r) for r in queue],
        "points": {name: store.balance(store.worker_id(name)) for name in ("ana", "ben", "cai")},
    }


def test_the_plain_path_ends_where_the_general_path_ends(pg_cluster: Any) -> None:
    with SqlStore(pg_cluster.new_database()) as plain, SqlStore(pg_cluster.new_database()) as general:
        general._plain = None
        served = _count_plain_answers(_plain(plain))
        assert _session(plain) == _session(general)
        assert served["claim"] >= 3 and served["submit"] >= 6  # the plain path did take part


def _count_plain_answers(path: PlainPath) -> dict[str, int]:
    """Count the calls on which the plain path did the work (rather than stepping aside)."""
    served = {"claim": 0, "submit": 0}
    claim, submit = path.claim, path.submit

    def counted_claim(*args: Any) -> Any:
        out = claim(*args)
        served["claim"] += out is not None
        return out

    def counted_submit(*args: Any) -> Any:
        out = submit(*args)
        served["submit"] += sum(at is not None for at in out)
        return out

    path.claim, path.submit = counted_claim, counted_submit  # type: ignore[method-assign]
    return served


def test_concurrent_claims_share_transactions_and_never_hand_a_slot_twice(pg: SqlStore) -> None:
    pid = _project(pg, overlap=2)
    pg.insert_tasks(pid, [NewTask(f"u{i}", {"text": "more"}) for i in range(34)])  # 40 tasks, 80 slots
    workers = [pg.worker_id(f"w{i}") for i in range(12)]
    gate = threading.Barrier(len(workers))
    got: dict[int, list[int]] = {}

    def claim(worker: int) -> None:
        gate.wait()
        first = [t.id for t in pg.claim(pid, worker, 3)]
        got[worker] = first + [t.id for t in pg.claim(pid, worker, 3, exclude=first)]  # 3, then 3 more

    threads = [threading.Thread(target=claim, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(len(ids) == len(set(ids)) == 6 for ids in got.values())  # never the same task twice
    per_task = Counter(task for ids in got.values() for task in ids)
    assert sum(per_task.values()) == 72 and max(per_task.values()) == 2  # no slot twice
    assert _plain(pg)._claims.groups < 24  # several claims per transaction


def test_a_claim_group_answers_each_claim_by_its_own_case(pg: SqlStore) -> None:
    pid, ana, ben = _project(pg), pg.worker_id("ana"), pg.worker_id("ben")
    pg.set_worker_status(pid, ben, "suspended")
    params = [{"project": pid, "worker": worker, "n": 2, "held": "{}"} for worker in (ana, ben, ana)]
    first, suspended, again = _plain(pg)._write_claims(params)
    assert [row[2] for row in first] == ["t0", "t1"]  # type: ignore[union-attr]
    assert suspended is not None and not suspended[0][0]  # not plain: the general path answers
    assert again is not None and not again[0][0]  # ana holds leases she did not name
    assert [t.external_id for t in pg.claim(pid, ana, 2)] == ["t0", "t1"]  # the general path: her own first


def test_a_claim_does_not_wait_for_a_held_lease_another_transaction_is_writing(pg: SqlStore) -> None:
    pid, ana = _project(pg), pg.worker_id("ana")
    held = pg.claim(pid, ana, 2)
    with pg.engine.connect() as other:  # e.g. a group writing the label of held[0]
        other.execute(sa.text("SELECT 1 FROM assignments WHERE task_id = :t FOR UPDATE"), {"t": held[0].id})
        before = dict(other.execute(sa.text("SELECT task_id, expires_at FROM assignments")).all())
        done: list[Any] = []
        thread = threading.Thread(target=lambda: done.append(pg.claim(pid, ana, 1, exclude=[t.id for t in held])))
        thread.start()
        thread.join(timeout=10)
        assert done and [t.external_id for t in done[0]] == ["t2"]  # served at once
        other.rollback()
    with pg.engine.connect() as conn:
        after = dict(conn.execute(sa.text("SELECT task_id, expires_at FROM assignments")).all())
    assert after[held[0].id] == before[held[0].id] and after[held[1].id] > before[held[1].id]


def test_a_retry_racing_its_first_attempt_gets_the_first_receipt(pg: SqlStore) -> None:
    """The general path (a quality policy keeps labels off the plain one): attempts of one
    annotation id written at the same moment all get the one receipt; none is refused."""
    pid = _project(pg, overlap=1)
    pg.set_quality(pid, QualityPolicy(min_duration_ms=100))
    worker = pg.worker_id("ana")
    tasks = pg.claim(pid, worker, 6)
    for task in tasks:
        submission = Submission(f"race-{task.id:08d}", task.id, "a", 900)
        gate = threading.Barrier(6)
        outcomes: list[Any] = []

        def attempt(submission: Submission = submission, gate: threading.Barrier = gate) -> None:
            gate.wait()
            try:
                outcomes.append(pg.submit(pid, worker, submission))
            except Exception as exc:  # noqa: BLE001 - what a racing retry must never get
                outcomes.append(exc)

        threads = [threading.Thread(target=attempt) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(not isinstance(o, Exception) for o in outcomes), outcomes
        assert sorted(o.duplicate for o in outcomes) == [False] + [True] * 5
        assert len({o.submitted_at for o in outcomes}) == 1
    assert len(pg.labels(pid)) == 6
