"""Quality control in the store: workers' standing per project (control answers, agreement,
status), control tasks in the hand-out, the rules after each label, and dynamic overlap."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crowdnb import kinds
from crowdnb.errors import Conflict, LabelError, NotFound
from crowdnb.aggregation.methods import SINGLE_CHOICE
from crowdnb.quality import model
from crowdnb.quality.rules import QualityPolicy, Status, Track
from crowdnb.store.schema import annotations, assignments, project_workers, projects, tasks, utcnow, worker_pairs, workers
from crowdnb.store.sql import crowd_model
from crowdnb.store.sql.reads import frame
from crowdnb.store.sql.slots import shift_active


def check_policy(kind: str, policy: QualityPolicy | None) -> None:
    """Refuse an unknown kind, and a policy the kind cannot follow (dynamic overlap needs
    single-choice classes)."""
    definition = kinds.get(kind)
    if policy is None or definition.aggregator in SINGLE_CHOICE:
        return
    if policy.dynamic_overlap:
        raise ValueError(f"dynamic overlap needs a single-choice classification kind, not {kind!r}")
    if policy.min_information is not None:
        raise ValueError(f"min_information needs a single-choice classification kind, not {kind!r}")


def policy_of(conn: sa.Connection, project_id: int) -> QualityPolicy:
    """The project's quality policy (all rules off when none was set)."""
    return QualityPolicy.from_dict(conn.scalar(sa.select(projects.c.quality).where(projects.c.id == project_id)))


def status(conn: sa.Connection, project_id: int, worker_id: int) -> Status:
    """The worker's status in the project (active when they have no standing yet)."""
    found = conn.scalar(
        sa.select(project_workers.c.status).where(
            project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id
        )
    )
    return found or "active"


def standing(conn: sa.Connection, project_id: int, worker_id: int) -> sa.Row[Any]:
    """The worker's standing row, created (active, nothing answered) on first use; two
    transactions creating it at once both succeed."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(project_workers).values(project_id=project_id, worker_id=worker_id).on_conflict_do_nothing())
    return conn.execute(
        sa.select(project_workers).where(
            project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id
        )
    ).one()


def update_standing(conn: sa.Connection, project_id: int, worker_id: int, **values: Any) -> None:
    """Change columns of a worker's standing row (which must exist)."""
    conn.execute(
        project_workers.update()
        .where(project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id)
        .values(**values, updated_at=utcnow())
    )


def change_status(conn: sa.Connection, project_id: int, worker_id: int, new: Status, overlap: int) -> None:
    """Set a worker's status. Leaving `active` gives their leased slots back; entering or
    leaving `banned` also gives back (or takes again) the slots of the tasks they labeled,
    since a banned worker's labels do not count."""
    before = standing(conn, project_id, worker_id).status
    if before == new:
        return
    update_standing(conn, project_id, worker_id, status=new)
    mine = (assignments.c.project_id == project_id, assignments.c.worker_id == worker_id)
    if before == "active":
        leased = list(
            conn.scalars(sa.delete(assignments).where(*mine, assignments.c.status == "leased").returning(assignments.c.task_id))
        )
        shift_active(conn, leased, -1, overlap)
    if "banned" in (before, new):
        done = list(conn.scalars(sa.select(assignments.c.task_id).where(*mine, assignments.c.status == "done")))
        shift_active(conn, done, -1 if new == "banned" else +1, overlap)
        if new == "banned":
            decide_again(conn, project_id, done)


def decide_again(conn: sa.Connection, project_id: int, task_ids: list[int]) -> None:
    """Under dynamic overlap, decide again the tasks a ban took labels from."""
    project = conn.execute(
        sa.select(projects.c.kind, projects.c.config, projects.c.overlap, projects.c.quality).where(projects.c.id == project_id)
    ).one()
    policy = QualityPolicy.from_dict(project.quality)
    if not policy.dynamic_overlap:
        return
    regular = conn.scalars(sa.select(tasks.c.id).where(tasks.c.id.in_(task_ids), ~tasks.c.is_control).order_by(tasks.c.id))
    for task_id in list(regular):
        adjust_overlap(conn, project_id, task_id, project, policy, after_ban=True)


def earned_controls(conn: sa.Connection, project_id: int, worker_id: int) -> int:
    """The worker's control answers in the other projects of this project's kind and classes
    (a qualification earned once counts across projects)."""
    this = conn.execute(sa.select(projects.c.kind, projects.c.config).where(projects.c.id == project_id)).one()
    same = [
        p.id for p in conn.execute(sa.select(projects.c.id, projects.c.config).where(projects.c.kind == this.kind, projects.c.id != project_id))
        if p.config.get("classes") == this.config.get("classes")
    ]
    if not same:
        return 0
    pw = project_workers.c
    total = conn.scalar(sa.select(sa.func.sum(pw.n_control)).where(pw.worker_id == worker_id, pw.project_id.in_(same)))
    return int(total or 0)


def qualified(conn: sa.Connection, project_id: int, worker_id: int, track: Track, policy: QualityPolicy) -> bool:
    """Whether the worker took the entry test here or one like it elsewhere."""
    return track.n_control >= policy.min_control or earned_controls(conn, project_id, worker_id) >= policy.min_control


def paced(conn: sa.Connection, project_id: int, worker_id: int, n: int, policy: QualityPolicy) -> int:
    """How many of the `n` new tasks a worker asks for they get under a paced policy: all
    during the entry test and for workers at least as informative as one of `pace_skill`;
    else their share (see `QualityPolicy.pace_exponent`) plus what earlier requests carried."""
    if policy.pace_exponent is None or n <= 0:
        return n
    project = conn.execute(sa.select(projects.c.kind, projects.c.config).where(projects.c.id == project_id)).one()
    mine = standing(conn, project_id, worker_id)
    track = Track(mine.n_control, mine.n_correct, mine.n_consensus, mine.n_agreed)
    if not crowd_model.applies(project.kind) or not qualified(conn, project_id, worker_id, track, policy):
        return n
    crowd = crowd_model.Crowd.read(conn, project_id, project, policy, [worker_id], {worker_id: track})
    reference = model.information(model.one_coin(policy.pace_skill, len(crowd.classes)), crowd.prior)
    share = min(1.0, crowd.information(worker_id) / reference) ** policy.pace_exponent
    credit = mine.pace_credit + n * share
    granted = min(n, int(credit))
    update_standing(conn, project_id, worker_id, pace_credit=min(credit - granted, 1.0))
    return granted


def control_slots(conn: sa.Connection, project_id: int, worker_id: int, n: int, policy: QualityPolicy) -> list[int]:
    """Which of the worker's next `n` tasks (by position) should be control tasks; control
    answers in projects like this one count towards the entry test."""
    counts = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(tasks.c.is_control))
        .select_from(assignments.join(tasks, tasks.c.id == assignments.c.task_id))
        .where(assignments.c.project_id == project_id, assignments.c.worker_id == worker_id)
    ).one()
    handed, controls = int(counts[0]), int(counts[1])
    if controls < policy.min_control:
        earned = min(earned_controls(conn, project_id, worker_id), policy.min_control)
        handed, controls = handed + earned, controls + earned
    slots = []
    for i in range(n):
        if policy.wants_control(controls, handed + i):
            slots.append(i)
            controls += 1
    return slots


def after_label(
    conn: sa.Connection, project_id: int, worker_id: int, task_id: int, is_control: bool, label: Any,
    project: sa.Row[Any], policy: QualityPolicy,
) -> None:
    """Apply the quality policy after a stored label: skip streak, control answers and the
    worker's status, dynamic overlap."""
    mine = standing(conn, project_id, worker_id)
    if is_control:
        answers = conn.execute(
            sa.select(annotations.c.label, tasks.c.known_answer)
            .join(tasks, tasks.c.id == annotations.c.task_id)
            .where(
                annotations.c.project_id == project_id,
                annotations.c.worker_id == worker_id,
                annotations.c.status != "superseded",
                tasks.c.is_control,
            )
        ).all()
        kind = kinds.get(project.kind)
        correct = sum(kind.matches(a.label, a.known_answer, project.config) for a in answers)
        update_standing(conn, project_id, worker_id, n_control=len(answers), n_correct=correct, skips_in_row=0)
        track = Track(len(answers), correct, mine.n_consensus, mine.n_agreed)
        information = None
        if policy.models_workers and crowd_model.applies(project.kind):
            crowd = crowd_model.Crowd.read(conn, project_id, project, policy, [worker_id], {worker_id: track})
            known = conn.scalar(sa.select(tasks.c.known_answer).where(tasks.c.id == task_id))
            crowd.count(conn, [(worker_id, known, label)])
            information = crowd.information(worker_id)
        change_status(conn, project_id, worker_id, policy.verdict(track, mine.status, information), project.overlap)
    elif mine.skips_in_row:
        update_standing(conn, project_id, worker_id, skips_in_row=0)
    if policy.dynamic_overlap and not is_control:
        adjust_overlap(conn, project_id, task_id, project, policy)


def adjust_overlap(
    conn: sa.Connection, project_id: int, task_id: int, project: sa.Row[Any], policy: QualityPolicy, *, after_ban: bool = False
) -> None:
    """When a task's counted labels reach its overlap, compute its posterior under the crowd
    model. At the target the crowd has decided it: the answer and posterior are kept on the
    task, and, the first time, every labeler's agreement and confusion counts are updated and
    the rules applied with them. Below the target, the task takes one more label, unless it
    has `max_overlap` labels in all (banned workers' included) or even that many agreeing
    ones could not reach the target: then it goes to an inspector. `after_ban`: a ban just
    took labels of the task (its slots were given back): decided again on those left, it
    stays closed if they still reach the target, and reopens only if it may take more."""
    assert policy.max_overlap is not None and policy.target_confidence is not None
    task = conn.execute(
        sa.select(sa.func.coalesce(tasks.c.overlap, project.overlap).label("overlap"), tasks.c.confident_at, tasks.c.decided)
        .where(tasks.c.id == task_id)
    ).one()
    rows = task_labels(conn, project_id, task_id)
    counted = [r for r in rows if r.status != "banned"]
    if task.decided in ("review", "inspector") or (len(counted) < task.overlap and not after_ban):
        return
    usable = [r for r in counted if r.flag is None]
    tracks = {r.worker_id: Track(r.n_control or 0, r.n_correct or 0, r.n_consensus or 0, r.n_agreed or 0) for r in usable}
    crowd = crowd_model.Crowd.read(conn, project_id, project, policy, list(tracks), tracks)
    flagged = crowd.colluding(conn, list(tracks))
    voting = [(r.worker_id, r.label) for r in without_echoes(usable, flagged)]
    now = crowd.posterior(voting)
    decided = tasks.update().where(tasks.c.id == task_id)
    if now.confidence >= policy.target_confidence:
        answer = crowd.classes[now.best]
        closed = {"is_open": False, "overlap": len(counted)} if after_ban else {}
        conn.execute(decided.values(
            decided="crowd", answer=answer, confidence=now.confidence,
            confident_at=sa.func.coalesce(tasks.c.confident_at, utcnow()), **closed,
        ))
        if task.confident_at is None:  # its agreement counts once, even if a ban reopens it
            crowd.record_pairs(conn, [(r.worker_id, r.label) for r in usable])
            colluders = set().union(*flagged)
            credit_agreement(conn, project_id, project, policy, crowd, [r for r in usable if r.worker_id not in colluders], answer)
        return
    if task.decided == "crowd":  # a ban took labels it was decided on
        conn.execute(decided.values(decided=None, answer=None, confidence=None))
    if len(rows) >= policy.max_overlap or not crowd.reachable(voting, policy.max_overlap - len(rows)):
        conn.execute(
            decided.values(decided="review", answer=crowd.classes[now.best], confidence=now.confidence, is_open=False)
        )
        crowd.record_pairs(conn, [(r.worker_id, r.label) for r in usable])
    elif not after_ban:  # the ban already gave its slots back
        conn.execute(decided.values(overlap=task.overlap + 1, is_open=tasks.c.n_active < task.overlap + 1))


def resolve(conn: sa.Connection, project_id: int, task: str, label: Any) -> None:
    """An inspector's answer to a task that dynamic overlap sent to them (or a new answer to
    one they decided): it becomes the task's result, at confidence 1."""
    project = conn.execute(sa.select(projects.c.kind, projects.c.config, projects.c.quality).where(projects.c.id == project_id)).one()
    found = conn.execute(
        sa.select(tasks.c.id, tasks.c.decided).where(tasks.c.project_id == project_id, tasks.c.external_id == task)
    ).first()
    if found is None:
        raise NotFound(f"no task {task!r} in project {project_id}")
    if found.decided not in ("review", "inspector"):
        raise Conflict(f"task {task!r} is not waiting for an inspector (decided: {found.decided or 'not yet'})")
    classes = list(project.config["classes"])
    if label not in classes:
        raise LabelError(f"label {label!r} of task {task!r} is not one of the project's classes {classes}")
    conn.execute(tasks.update().where(tasks.c.id == found.id).values(decided="inspector", answer=label, confidence=1.0))
    if found.decided == "review":
        crowd_model.Crowd.read(conn, project_id, project, QualityPolicy.from_dict(project.quality), [], {}).decided(conn, label)


def without_echoes(labels: list[sa.Row[Any]], flagged: set[frozenset[int]]) -> list[sa.Row[Any]]:
    """The labels in order, less those of a worker flagged as colluding with an earlier
    labeler of the same task (their agreement tells nothing more)."""
    kept: list[sa.Row[Any]] = []
    for r in labels:
        if not any(frozenset((k.worker_id, r.worker_id)) in flagged for k in kept):
            kept.append(r)
    return kept


def task_labels(conn: sa.Connection, project_id: int, task_id: int) -> list[sa.Row[Any]]:
    """A task's labels that stand (not superseded), in the order they came, with their
    workers' status and counts."""
    pw = project_workers.c
    return conn.execute(
        sa.select(
            annotations.c.worker_id, annotations.c.label, annotations.c.flag, pw.status,
            pw.n_control, pw.n_correct, pw.n_consensus, pw.n_agreed,
        )
        .outerjoin(project_workers, (pw.project_id == project_id) & (pw.worker_id == annotations.c.worker_id))
        .where(annotations.c.task_id == task_id, annotations.c.status != "superseded")
        .order_by(annotations.c.submitted_at, annotations.c.id)
    ).all()


def credit_agreement(
    conn: sa.Connection, project_id: int, project: sa.Row[Any], policy: QualityPolicy, crowd: crowd_model.Crowd,
    usable: list[sa.Row[Any]], answer: Any,
) -> None:
    """Count a decided task towards its labelers' agreement and confusion counts, and the
    answer towards the class prior; then apply the rules with what they measure now."""
    pw = project_workers.c
    crowd.count(conn, [(r.worker_id, answer, r.label) for r in usable])
    crowd.decided(conn, answer)
    for r in usable:
        agreed = int(r.label == answer)
        standing(conn, project_id, r.worker_id)
        update_standing(conn, project_id, r.worker_id, n_consensus=pw.n_consensus + 1, n_agreed=pw.n_agreed + agreed)
        before = r.status or "active"
        track = Track(r.n_control or 0, r.n_correct or 0, (r.n_consensus or 0) + 1, (r.n_agreed or 0) + agreed)
        crowd.tracks[r.worker_id] = track
        verdict = policy.verdict(
            track, before, crowd.information(r.worker_id), qualified=qualified(conn, project_id, r.worker_id, track, policy)
        )
        if verdict != before:
            change_status(conn, project_id, r.worker_id, verdict, project.overlap)


def worker_standing(conn: sa.Connection, project_id: int) -> pd.DataFrame:
    """Each worker with labels or a standing in the project: worker, status, n_control,
    n_correct, skill (from control answers and labels on confidently closed tasks, with the
    policy's prior: the one the rules and dynamic overlap use), n_consensus and n_agreed
    (labels on confidently closed tasks, agreeing ones), skips_in_row."""
    policy = policy_of(conn, project_id)
    involved = sa.select(annotations.c.worker_id).where(annotations.c.project_id == project_id).union(
        sa.select(project_workers.c.worker_id).where(project_workers.c.project_id == project_id)
    ).subquery()
    pw = project_workers.c
    query = (
        sa.select(
            workers.c.name.label("worker"),
            sa.func.coalesce(pw.status, "active").label("status"),
            sa.func.coalesce(pw.n_control, 0).label("n_control"),
            sa.func.coalesce(pw.n_correct, 0).label("n_correct"),
            sa.func.coalesce(pw.n_consensus, 0).label("n_consensus"),
            sa.func.coalesce(pw.n_agreed, 0).label("n_agreed"),
            sa.func.coalesce(pw.skips_in_row, 0).label("skips_in_row"),
        )
        .select_from(involved)
        .join(workers, workers.c.id == involved.c.worker_id)
        .outerjoin(project_workers, (pw.project_id == project_id) & (pw.worker_id == workers.c.id))
        .order_by(workers.c.name)
    )
    table = frame(conn, query)
    tracks = zip(table["n_control"], table["n_correct"], table["n_consensus"], table["n_agreed"], strict=True)
    table.insert(4, "skill", [policy.worker_skill(Track(*map(int, t))) for t in tracks])
    partners = colluding_pairs(conn, project_id, policy)
    table["colluding_with"] = [sorted(partners.get(name, ())) for name in table["worker"]]
    return table


def colluding_pairs(conn: sa.Connection, project_id: int, policy: QualityPolicy) -> dict[str, set[str]]:
    """Each worker flagged as colluding, with the names of their partners."""
    if policy.collusion_z is None:
        return {}
    p = worker_pairs.c
    first, second = workers.alias("first"), workers.alias("second")
    found = conn.execute(
        sa.select(first.c.name.label("a"), second.c.name.label("b"), p.shared, p.agreed, p.expected, p.variance)
        .join(first, first.c.id == p.first)
        .join(second, second.c.id == p.second)
        .where(p.project_id == project_id, p.shared >= policy.collusion_min_shared)
    )
    partners: dict[str, set[str]] = {}
    for r in found:
        if model.collusion_z(r.shared, r.agreed, r.expected, r.variance) >= policy.collusion_z:
            partners.setdefault(r.a, set()).add(r.b)
            partners.setdefault(r.b, set()).add(r.a)
    return partners
