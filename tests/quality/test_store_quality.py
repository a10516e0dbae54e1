"""Quality rules as the store applies them, on SQLite and PostgreSQL: control tasks in the
hand-out, suspensions and bans, too-fast flags, skip limits, dynamic overlap."""

from __future__ import annotations

import uuid

import pytest

from crowdnb.errors import Conflict, LabelError
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import NewTask, SqlStore, Submission


def _project(store: SqlStore, policy: QualityPolicy, *, n: int = 20, controls: int = 3, overlap: int = 1) -> int:
    info = store.create_project("q", "text-class", {"classes": ["a", "b", "c"]}, overlap=overlap, quality=policy)
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(n)])
    store.insert_tasks(info.id, [NewTask(f"c{i}", {"text": f"control {i}"}, known_answer="a") for i in range(controls)])
    return info.id


def _label(store: SqlStore, pid: int, worker: int, task_id: int, label: str, duration_ms: int | None = 2000) -> None:
    store.submit(pid, worker, Submission(uuid.uuid4().hex, task_id, label, duration_ms))


def _open(store: SqlStore, pid: int) -> dict[str, tuple[int, int]]:
    """external id -> (overlap, n_labels)"""
    frame = store.tasks(pid)
    return {row.id: (row.overlap, row.n_labels) for row in frame.itertuples()}


def test_control_tasks_are_mixed_in_at_the_rate_once_per_worker(store: SqlStore) -> None:
    pid = _project(store, QualityPolicy(control_rate=0.25, min_control=0), controls=2)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    first = [t.external_id for t in store.claim(pid, ana, 10)]
    assert first[0] == "c0" and first[4] == "c1"
    assert sum(t.startswith("c") for t in first) == 2  # only two control tasks exist
    # Control tasks are shown to every worker, whatever the overlap; regular ones are not.
    second = [t.external_id for t in store.claim(pid, ben, 10)]
    assert [t for t in second if t.startswith("c")] == ["c0", "c1"]
    assert not {t for t in second if t.startswith("t")} & {t for t in first if t.startswith("t")}


def test_without_a_rate_control_tasks_are_ordinary_tasks(store: SqlStore) -> None:
    pid = _project(store, QualityPolicy(), n=2, controls=1)
    assert [t.external_id for t in store.claim(pid, store.worker_id("ana"), 5)] == ["t0", "t1", "c0"]


def test_bad_control_answers_ban_and_banned_labels_free_their_slots(store: SqlStore) -> None:
    policy = QualityPolicy(control_rate=0.5, min_control=2, ban_below=0.5, skill_prior=0.7, prior_weight=1)
    pid = _project(store, policy, n=6, controls=2)
    spam = store.worker_id("spam")
    handed = store.claim(pid, spam, 4)
    regular = [t for t in handed if t.external_id.startswith("t")]
    for task in sorted(handed, key=lambda t: t.external_id.startswith("c")):
        _label(store, pid, spam, task.id, "b")  # the regular tasks, then both controls wrong
    standing = store.worker_standing(pid).set_index("worker")
    assert standing.loc["spam", ["status", "n_control", "n_correct"]].tolist() == ["banned", 2, 0]
    assert store.claim(pid, spam, 3) == []
    with pytest.raises(Conflict, match="banned"):
        _label(store, pid, spam, regular[0].id, "a")
    # The tasks the banned worker labeled go to someone else.
    ana = store.worker_id("ana")
    got = {t.external_id for t in store.claim(pid, ana, 10)}
    assert {t.external_id for t in regular} <= got
    # A manager can reinstate them; their labels count again and the slots close.
    store.set_worker_status(pid, spam, "active")
    assert store.worker_standing(pid).set_index("worker").loc["spam", "status"] == "active"


def test_control_boxes_are_checked_by_iou_and_class(store: SqlStore) -> None:
    policy = QualityPolicy(control_rate=0.5, min_control=3)
    config = {"classes": ["car", "bus"], "shape": "box", "transcribe": False}
    info = store.create_project("boxes", "bbox", config, quality=policy)
    car = {"label": "car", "x": 10.0, "y": 10.0, "w": 40.0, "h": 30.0}
    image = {"image": "/x.jpg", "width": 100, "height": 100}
    pid, ana = info.id, store.worker_id("ana")
    store.insert_tasks(pid, [NewTask(f"c{i}", image, known_answer=[car]) for i in range(3)])
    answers = [[{**car, "x": 12.0, "y": 8.0}], [{**car, "label": "bus"}], [{**car, "x": 30.0}]]  # 2 px off, class, half off
    for task, label in zip(store.claim(pid, ana, 3), answers, strict=True):
        _label(store, pid, ana, task.id, label)
    assert store.worker_standing(pid).set_index("worker").loc["ana", ["n_control", "n_correct"]].tolist() == [3, 1]


def test_suspension_stops_hand_out_but_keeps_labels(store: SqlStore) -> None:
    pid = _project(store, QualityPolicy(control_rate=0.5, min_control=1, suspend_below=0.6, prior_weight=1), n=4, controls=1)
    ben = store.worker_id("ben")
    control = store.claim(pid, ben, 1)[0]
    _label(store, pid, ben, control.id, "c")
    assert store.worker_standing(pid).set_index("worker").loc["ben", "status"] == "suspended"
    assert store.claim(pid, ben, 2) == []
    other = store.claim(pid, store.worker_id("cai"), 2)[-1]  # a regular task (the first is a control)
    with pytest.raises(Conflict, match="suspended"):  # no label for a task ben never held, either
        store.submit(pid, ben, Submission(uuid.uuid4().hex, other.id, "a"))
    assert len(store.labels(pid)) == 1


def test_too_fast_answers_are_flagged(store: SqlStore) -> None:
    pid = _project(store, QualityPolicy(min_duration_ms=800), n=2, controls=0)
    ana = store.worker_id("ana")
    first, second = store.claim(pid, ana, 2)
    _label(store, pid, ana, first.id, "a", duration_ms=150)
    _label(store, pid, ana, second.id, "a", duration_ms=1500)
    assert store.labels(pid)["flag"].tolist() == ["too_fast", None]


def test_skips_in_a_row_are_limited(store: SqlStore) -> None:
    pid = _project(store, QualityPolicy(max_skips_in_row=2), n=5, controls=0)
    ana = store.worker_id("ana")
    tasks = store.claim(pid, ana, 5)
    store.skip(pid, ana, tasks[0].id)
    store.skip(pid, ana, tasks[1].id)
    with pytest.raises(Conflict, match="2 skips in a row"):
        store.skip(pid, ana, tasks[2].id)
    _label(store, pid, ana, tasks[2].id, "a")
    store.skip(pid, ana, tasks[3].id)


def test_dynamic_overlap_asks_for_more_labels_until_confident(store: SqlStore) -> None:
    policy = QualityPolicy(target_confidence=0.95, max_overlap=4, skill_prior=0.8, prior_weight=4)
    pid = _project(store, policy, n=2, controls=0, overlap=1)
    workers = [store.worker_id(f"w{i}") for i in range(5)]
    t0 = store.claim(pid, workers[0], 1)[0]
    _label(store, pid, workers[0], t0.id, "a")
    assert _open(store, pid)["t0"] == (2, 1)  # 0.8 < 0.95: one more label wanted
    assert store.claim(pid, workers[1], 1)[0].id == t0.id
    _label(store, pid, workers[1], t0.id, "a")
    assert _open(store, pid)["t0"] == (2, 2)  # two agreeing: 0.98, done
    assert [t.external_id for t in store.claim(pid, workers[2], 2)] == ["t1"]
    # Both agreed with the confident answer: that counts towards the skill dynamic overlap uses.
    standing = store.worker_standing(pid).set_index("worker")
    assert standing.loc[["w0", "w1"], ["n_consensus", "n_agreed"]].values.tolist() == [[1, 1], [1, 1]]


def test_disagreeing_with_confident_answers_suspends(store: SqlStore) -> None:
    policy = QualityPolicy(
        target_confidence=0.9, max_overlap=3, skill_prior=0.9, prior_weight=1, min_control=0, suspend_below=0.6
    )
    pid = _project(store, policy, n=2, controls=0)
    for i, label in enumerate(["b", "a", "a"]):
        worker = store.worker_id(f"w{i}")
        _label(store, pid, worker, store.claim(pid, worker, 1)[0].id, label)
    assert _open(store, pid)["t0"] == (3, 3)  # "a" at 0.945: closed
    standing = store.worker_standing(pid).set_index("worker")
    assert standing.loc["w0", ["status", "n_consensus", "n_agreed"]].tolist() == ["suspended", 1, 0]
    assert standing.loc["w0", "skill"] == pytest.approx(0.45)
    assert standing.loc[["w1", "w2"], "status"].tolist() == ["active", "active"]
    assert store.claim(pid, store.worker_id("w0"), 1) == []


def test_a_split_task_goes_to_an_inspector_instead_of_closing(store: SqlStore) -> None:
    pid = _project(store, QualityPolicy(target_confidence=0.99, max_overlap=4), n=2, controls=0)
    workers = [store.worker_id(f"w{i}") for i in range(3)]
    for worker, label in zip(workers, "ab"):
        _label(store, pid, worker, store.claim(pid, worker, 1)[0].id, label)
    # Two more labels (the maximum is 4) could not bring "a, b" to 0.99: an inspector decides.
    assert _open(store, pid)["t0"] == (2, 2)
    assert [t.external_id for t in store.claim(pid, workers[2], 2)] == ["t1"]
    (waiting,) = store.escalated(pid).itertuples()
    assert (waiting.task, waiting.votes, waiting.n_labels) == ("t0", {"a": 1, "b": 1}, 2)
    assert waiting.label in ("a", "b") and waiting.confidence < 0.99
    before = store.results(pid).set_index("task")
    assert before.loc["t0", "confidence"] == pytest.approx(waiting.confidence)
    with pytest.raises(LabelError, match="'z'"):
        store.resolve(pid, "t0", "z")
    with pytest.raises(Conflict, match="t1"):
        store.resolve(pid, "t1", "a")
    store.resolve(pid, "t0", "b")
    after = store.results(pid).set_index("task")
    assert after.loc["t0", ["label", "confidence", "n_labels"]].tolist() == ["b", 1.0, 2]
    assert store.escalated(pid).empty
    assert after.attrs["method"] == "dynamic-overlap"


def _plain_model(**settings: object) -> QualityPolicy:
    """Workers as one-coin workers of skill ~0.8 throughout, easy tasks only: posteriors a
    test can compute by hand: three agreeing labels 0.996; two 0.970, or 0.985 once the class
    prior has seen one decided "a"."""
    return QualityPolicy(
        skill_prior=0.8, prior_weight=100, min_control=0, confusion_weight=1000, hard_share=0.0, target_confidence=0.99,
        **settings,  # type: ignore[arg-type]
    )


def test_results_report_the_posterior_that_stopped_a_task(store: SqlStore) -> None:
    pid = _project(store, _plain_model(max_overlap=5), n=1, controls=0, overlap=3)
    for i in range(3):
        worker = store.worker_id(f"w{i}")
        _label(store, pid, worker, store.claim(pid, worker, 1)[0].id, "a")
    found = store.results(pid).set_index("task")
    assert found.loc["t0", "label"] == "a"
    assert found.loc["t0", "confidence"] == pytest.approx(0.8**3 / (0.8**3 + 2 * 0.1**3), abs=1e-3)
    # Other methods stay available by name.
    assert store.results(pid, "majority-vote").set_index("task").loc["t0", "label"] == "a"


def test_a_ban_reopens_a_task_only_when_the_rest_do_not_decide_it(store: SqlStore) -> None:
    pid = _project(store, _plain_model(max_overlap=5), n=1, controls=0, overlap=3)
    workers = [store.worker_id(f"w{i}") for i in range(4)]
    for worker in workers[:3]:
        _label(store, pid, worker, store.claim(pid, worker, 1)[0].id, "a")
    assert store.claim(pid, workers[3], 1) == []
    store.set_worker_status(pid, workers[0], "banned")  # two "a" left: 0.985 < 0.99
    (reopened,) = store.claim(pid, workers[3], 1)
    _label(store, pid, workers[3], reopened.id, "a")
    standing = store.worker_standing(pid).set_index("worker")
    assert standing.loc[["w1", "w2", "w3"], "n_consensus"].tolist() == [1, 1, 0]  # counted once, at the first close
    assert store.results(pid).set_index("task").loc["t0", "confidence"] > 0.99


def test_a_ban_never_takes_a_task_beyond_max_overlap(store: SqlStore) -> None:
    pid = _project(store, _plain_model(max_overlap=3), n=1, controls=0, overlap=3)
    workers = [store.worker_id(f"w{i}") for i in range(4)]
    for worker in workers[:3]:
        _label(store, pid, worker, store.claim(pid, worker, 1)[0].id, "a")
    store.set_worker_status(pid, workers[0], "banned")
    assert store.claim(pid, workers[3], 1) == []  # three labels given: an inspector decides
    assert store.escalated(pid)["votes"].tolist() == [{"a": 2}]


def test_a_ban_keeps_a_task_closed_when_the_rest_still_decide_it(store: SqlStore) -> None:
    pid = _project(store, _plain_model(max_overlap=5), n=1, controls=0, overlap=4)
    workers = [store.worker_id(f"w{i}") for i in range(5)]
    for worker in workers[:4]:
        _label(store, pid, worker, store.claim(pid, worker, 1)[0].id, "a")
    store.set_worker_status(pid, workers[0], "banned")  # three "a" left: 0.996
    assert store.claim(pid, workers[4], 1) == []


def test_uninformative_workers_are_banned_and_weak_honest_ones_keep_working(store: SqlStore) -> None:
    policy = QualityPolicy(min_control=6, min_information=0.1, skill_prior=0.7, prior_weight=2, control_rate=0.5)
    info = store.create_project("mi", "text-class", {"classes": ["a", "b", "c"]}, quality=policy)
    answers = ["a", "b", "c"] * 2
    store.insert_tasks(info.id, [NewTask(f"c{i}", {"text": f"control {i}"}, known_answer=answers[i]) for i in range(6)])
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(4)])
    constant, weak = store.worker_id("constant"), store.worker_id("weak")
    for worker, given in ((constant, "aaaaaa"), (weak, "abcacb")):  # always "a"; 4 of 6 right
        for task in store.claim(info.id, worker, 6):
            _label(store, info.id, worker, task.id, given[int(task.external_id[1:])])
    standing = store.worker_standing(info.id).set_index("worker")
    assert standing.loc["constant", "status"] == "banned"
    assert standing.loc["weak", "status"] == "active" and standing.loc["weak", "skill"] < 0.7


def test_dynamic_overlap_needs_single_choice_classes(store: SqlStore) -> None:
    info = store.create_project("boxes", "bbox", {"classes": ["car"], "shape": "box", "transcribe": False})
    with pytest.raises(ValueError, match="single-choice"):
        store.set_quality(info.id, QualityPolicy(target_confidence=0.9, max_overlap=3))
    store.set_quality(info.id, QualityPolicy(control_rate=0.1))
    assert store.quality(info.id).control_rate == 0.1


def test_an_entry_test_passed_once_counts_in_projects_of_the_same_classes(store: SqlStore) -> None:
    policy = QualityPolicy(control_rate=0.1, min_control=3)

    def project(name: str, classes: list[str]) -> int:
        info = store.create_project(name, "text-class", {"classes": classes}, quality=policy)
        store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(10)])
        store.insert_tasks(info.id, [NewTask(f"c{i}", {"text": f"control {i}"}, known_answer=classes[0]) for i in range(5)])
        return info.id

    course, work, other = project("course", ["a", "b"]), project("work", ["a", "b"]), project("other", ["x", "y"])
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    for task in store.claim(course, ana, 3):
        _label(store, course, ana, task.id, "a")
    assert store.worker_standing(course).set_index("worker").loc["ana", "n_control"] == 3
    assert [t.external_id[0] for t in store.claim(work, ana, 4)] == ["t", "t", "t", "t"]  # qualified: no entry test
    assert [t.external_id[0] for t in store.claim(work, ben, 4)] == ["c", "c", "c", "t"]  # not qualified
    assert [t.external_id[0] for t in store.claim(other, ana, 4)] == ["c", "c", "c", "t"]  # other classes


def test_paced_hand_out_gives_weaker_workers_a_share_of_what_they_ask(store: SqlStore) -> None:
    policy = QualityPolicy(control_rate=0.01, min_control=4, skill_prior=0.7, prior_weight=2, pace_exponent=2.0, pace_skill=0.9)
    info = store.create_project("paced", "text-class", {"classes": ["a", "b", "c"]}, quality=policy)
    store.insert_tasks(info.id, [NewTask(f"c{i}", {"text": f"control {i}"}, known_answer="abc"[i % 3]) for i in range(4)])
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(200)])
    strong, weak = store.worker_id("strong"), store.worker_id("weak")
    for worker, given in ((strong, "abca"), (weak, "abcb")):  # 4 of 4 right; 3 of 4
        entry = store.claim(info.id, worker, 4)
        assert [t.external_id for t in entry] == ["c0", "c1", "c2", "c3"]  # the entry test is never paced
        for task in entry:
            _label(store, info.id, worker, task.id, given[int(task.external_id[1:])])
    got = {name: 0 for name in ("strong", "weak")}
    for _ in range(5):
        for name, worker in (("strong", strong), ("weak", weak)):
            handed = store.claim(info.id, worker, 4)
            got[name] += len(handed)
            for task in handed:
                store.skip(info.id, worker, task.id)
    assert got["strong"] == 20  # as informative as the pace skill: every task asked for
    assert 0 < got["weak"] < 15, got  # a share, carried over from one request to the next
    assert store.worker_standing(info.id).set_index("worker").loc["weak", "status"] == "active"


def test_workers_who_agree_far_beyond_their_skills_are_flagged_as_colluding(store: SqlStore) -> None:
    policy = QualityPolicy(
        control_rate=0.01, min_control=4, skill_prior=0.7, prior_weight=2, target_confidence=0.95, max_overlap=2,
        collusion_z=3.0, collusion_min_shared=8,
    )
    info = store.create_project("ring", "text-class", {"classes": list("abcde")}, overlap=2, quality=policy)
    store.insert_tasks(info.id, [NewTask(f"c{i}", {"text": f"control {i}"}, known_answer="a") for i in range(4)])
    store.insert_tasks(info.id, [NewTask(f"t{i:02d}", {"text": f"text {i}"}) for i in range(12)])
    ring = [store.worker_id("r1"), store.worker_id("r2")]
    for worker in ring:  # one control answer of four right: skills that explain little agreement
        for task, given in zip(store.claim(info.id, worker, 4), "abbb", strict=True):
            _label(store, info.id, worker, task.id, given)
    for _ in range(12):
        for worker in ring:  # the same wrong answer, task after task
            (task,) = store.claim(info.id, worker, 1)
            _label(store, info.id, worker, task.id, "c")
    standing = store.worker_standing(info.id).set_index("worker")
    assert standing.loc["r1", "colluding_with"] == ["r2"] and standing.loc["r2", "colluding_with"] == ["r1"]
    assert len(store.escalated(info.id)) == 12  # they never decided a task on their own


def test_a_colluder_echoing_an_earlier_label_does_not_count() -> None:
    from collections import namedtuple

    from crowdnb.store.sql.quality import without_echoes

    Row = namedtuple("Row", "worker_id label")
    labels = [Row(1, "a"), Row(2, "a"), Row(3, "b"), Row(4, "a")]
    assert [r.worker_id for r in without_echoes(labels, {frozenset((1, 2)), frozenset((3, 4))})] == [1, 3]
    assert without_echoes(labels, set()) == labels
