"""Media behind membership, over real sockets: two projects share one media root; each caller
gets the images of the tasks their role lets them see, and nothing else."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from crowd import Crowd, make_project
from samples import write_images

import crowdnb
from crowdnb.media import image_payload
from crowdnb.store import Account, Submission
from crowdnb.store.schema import project_workers, tasks


def _ids(crowd: Crowd, project: str) -> dict[str, int]:
    """The project's task ids by external id (the manager's table shows only external ids)."""
    info = crowd.store.project(project)
    with crowd.store.engine.connect() as conn:
        rows = conn.execute(sa.select(tasks.c.external_id, tasks.c.id).where(tasks.c.project_id == info.id))
        return dict(rows.all())


def _url(project: str, task_id: int) -> str:
    return f"/projects/{project}/tasks/{task_id}/media"


def _image(crowd: Crowd, external_id: str) -> bytes:
    return (crowd.media / "street" / f"img{int(external_id[1:]):03d}.jpeg").read_bytes()


def _submit(client, project: str, task_id: int, label: str = "car") -> str:
    annotation_id = uuid.uuid4().hex
    body = {"annotation_id": annotation_id, "task_id": task_id, "label": label}
    assert client.post(f"/projects/{project}/submit", json=body).status_code == 200
    return annotation_id


def _two_projects(crowd: Crowd, north: str, south: str, **extra: object) -> tuple[dict[str, int], dict[str, int]]:
    """Two projects over the same six images: ana and ines in `north`, ben in `south`."""
    make_project(crowd, north, members=("ana", "ines"), **extra)
    make_project(crowd, south, members=("ben",), **extra)
    return _ids(crowd, north), _ids(crowd, south)


def test_non_members_get_403_and_ids_of_other_projects_404(shared_crowd: Crowd) -> None:
    north, south = _two_projects(shared_crowd, "n-members", "s-members")
    with shared_crowd.client("ana") as ana, shared_crowd.client("ben") as ben, shared_crowd.client("eve") as eve:
        for t in ana.post("/projects/n-members/claim", json={"n": 6}).json():
            _submit(ana, "n-members", t["task_id"])
        held = [t["task_id"] for t in ben.post("/projects/s-members/claim", json={"n": 6}).json()]
        assert sorted(held) == sorted(south.values())
        for task_id in south.values():  # held by ben: the same files as north's, other tasks
            assert ben.get(_url("s-members", task_id)).status_code == 200
            assert ana.get(_url("s-members", task_id)).status_code == 403  # not her project
            assert ana.get(_url("n-members", task_id)).status_code == 404  # not a task of hers
            assert eve.get(_url("s-members", task_id)).status_code == 403
        for task_id in north.values():
            assert ana.get(_url("n-members", task_id)).status_code == 200
            assert ben.get(_url("n-members", task_id)).status_code == 403
            assert ben.get(_url("s-members", task_id)).status_code == 404
        refused = ben.get(_url("s-members", 2**62))
        assert refused.status_code == 404 and refused.json() == {
            "detail": f"no task {2**62} of project 's-members' among those you may see"
        }
        assert ben.get(_url("no-such-project", 1)).status_code == 403


def test_a_worker_gets_media_only_of_tasks_held_labeled_or_sent_back(shared_crowd: Crowd) -> None:
    north, _ = _two_projects(shared_crowd, "n-worker", "s-worker", review_rate=1.0)
    with shared_crowd.client("ana") as ana, shared_crowd.client("ines") as ines:
        assert all(ana.get(_url("n-worker", i)).status_code == 404 for i in north.values())  # nothing handed out yet
        held, labeled, skipped = ana.post("/projects/n-worker/claim", json={"n": 3}).json()
        never = [i for e, i in north.items() if e not in ("s0", "s1", "s2")]
        for task in (held, labeled, skipped):
            answer = ana.get(task["payload"]["media"])
            assert answer.status_code == 200 and answer.content == _image(shared_crowd, task["external_id"])
        annotation = _submit(ana, "n-worker", labeled["task_id"])
        assert ana.post("/projects/n-worker/skip", json={"task_id": skipped["task_id"]}).status_code == 200
        assert ana.get(_url("n-worker", held["task_id"])).status_code == 200
        assert ana.get(_url("n-worker", labeled["task_id"])).status_code == 200
        assert ana.get(_url("n-worker", skipped["task_id"])).status_code == 404  # given back, never labeled
        assert all(ana.get(_url("n-worker", i)).status_code == 404 for i in never)
        ines.post("/projects/n-worker/reviews/claim", json={"n": 5})
        decided = ines.post(f"/projects/n-worker/reviews/{annotation}", json={"decision": "rejected", "reason": "a bus"})
        assert decided.status_code == 200
        (rework,) = [t for t in ana.post("/projects/n-worker/claim", json={"n": 1}).json() if t["rework"]]
        assert rework["task_id"] == labeled["task_id"] and ana.get(rework["payload"]["media"]).status_code == 200
        assert ana.post("/projects/n-worker/skip", json={"task_id": rework["task_id"]}).status_code == 200
        assert ana.get(_url("n-worker", rework["task_id"])).status_code == 200  # skipped, but she labeled it


def test_an_inspector_gets_media_of_labeled_tasks_of_their_projects(shared_crowd: Crowd) -> None:
    north, _ = _two_projects(shared_crowd, "n-inspect", "s-inspect", review_rate=1.0)
    with shared_crowd.client("ana") as ana, shared_crowd.client("ben") as ben, shared_crowd.client("ines") as ines:
        assert all(ines.get(_url("n-inspect", i)).status_code == 404 for i in north.values())
        (task,) = ana.post("/projects/n-inspect/claim", json={"n": 1}).json()
        assert ines.get(task["payload"]["media"]).status_code == 404  # leased, not labeled yet
        _submit(ana, "n-inspect", task["task_id"])
        (review,) = ines.post("/projects/n-inspect/reviews/claim", json={"n": 5}).json()
        assert review["payload"]["media"] == _url("n-inspect", task["task_id"]) and "image" not in review["payload"]
        answer = ines.get(review["payload"]["media"])
        assert answer.status_code == 200 and answer.content == _image(shared_crowd, task["external_id"])
        others = [i for i in north.values() if i != task["task_id"]]
        assert all(ines.get(_url("n-inspect", i)).status_code == 404 for i in others)
        (theirs,) = ben.post("/projects/s-inspect/claim", json={"n": 1}).json()
        _submit(ben, "s-inspect", theirs["task_id"])
        assert ines.get(_url("s-inspect", theirs["task_id"])).status_code == 403  # not her project
        assert ines.get(_url("n-inspect", theirs["task_id"])).status_code == 404


def test_a_manager_gets_media_of_every_task_and_a_clear_no_for_the_rest(shared_crowd: Crowd) -> None:
    north, south = _two_projects(shared_crowd, "n-manager", "s-manager")
    with shared_crowd.client("boss") as boss:
        for project, ids in (("n-manager", north), ("s-manager", south)):
            for external_id, task_id in ids.items():
                answer = boss.get(_url(project, task_id))
                assert answer.status_code == 200 and answer.content == _image(shared_crowd, external_id)
                assert boss.get(_url("n-manager" if project == "s-manager" else "s-manager", task_id)).status_code == 404
        assert boss.get(_url("no-such-project", 1)).status_code == 404
        for bad in ("0", "-1", str(2**63), "1.5", "s0"):
            assert boss.get(f"/projects/n-manager/tasks/{bad}/media").status_code == 422, bad


def test_private_caching_headers_and_revalidation_that_checks_membership(shared_crowd: Crowd) -> None:
    _two_projects(shared_crowd, "n-cache", "s-cache")
    with shared_crowd.client("ana") as ana, shared_crowd.client("ben") as ben:
        (task,) = ana.post("/projects/n-cache/claim", json={"n": 1}).json()
        first = ana.get(task["payload"]["media"])
        assert first.headers["cache-control"] == "private, no-cache"
        assert first.headers["content-type"] == "image/jpeg" and first.headers["x-content-type-options"] == "nosniff"
        assert first.headers["etag"].startswith('"') and first.headers["last-modified"].endswith("GMT")
        etag = first.headers["etag"]
        again = ana.get(task["payload"]["media"], headers={"If-None-Match": f'W/"other", {etag}'})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert ana.get(task["payload"]["media"], headers={"If-None-Match": '"other"'}).status_code == 200
        assert ben.get(task["payload"]["media"], headers={"If-None-Match": etag}).status_code == 403
        project_id = shared_crowd.store.project("n-cache").id
        with shared_crowd.store.engine.begin() as conn:  # ana leaves the project
            conn.execute(project_workers.delete().where(
                project_workers.c.project_id == project_id,
                project_workers.c.worker_id == shared_crowd.store.account("ana").id,
            ))
        deadline = time.monotonic() + 2  # the store's notice reaches the server within moments
        while ana.get(task["payload"]["media"], headers={"If-None-Match": etag}).status_code != 403:
            assert time.monotonic() < deadline, "a worker who left still gets the image"
            time.sleep(0.02)


def test_stored_images_outside_the_root_are_never_served(shared_crowd: Crowd, tmp_path: Path) -> None:
    """A local store may hold any path, and a file may become a symlink after it was added."""
    (outside,) = write_images(tmp_path / "outside", 1)
    (swapped,) = write_images(shared_crowd.media / "swap", 1)
    make_project(shared_crowd, "outside", members=("ana",))
    info = shared_crowd.store.project("outside")
    frame = pd.DataFrame({"id": ["far", "swap"], "image": [str(outside), str(swapped)]})
    shared_crowd.store.add_tasks(info.id, frame)
    swapped.unlink()
    swapped.symlink_to(outside)
    ids = _ids(shared_crowd, "outside")
    with shared_crowd.client("ana") as ana, shared_crowd.client("boss") as boss:
        claimed = {t["external_id"]: t for t in ana.post("/projects/outside/claim", json={"n": 8}).json()}
        assert claimed["far"]["payload"]["media"] is None and "image" not in claimed["far"]["payload"]
        assert claimed["swap"]["payload"]["media"] is None
        assert claimed["s0"]["payload"]["media"] == _url("outside", ids["s0"])
        for external_id in ("far", "swap"):
            answer = boss.get(_url("outside", ids[external_id]))
            assert answer.status_code == 403 and "outside the media root" in answer.json()["detail"]
            assert answer.content != outside.read_bytes()
        (crowd_root_image,) = write_images(shared_crowd.media / "gone", 1)
        shared_crowd.store.add_tasks(info.id, pd.DataFrame({"id": ["gone"], "image": [str(crowd_root_image)]}))
        crowd_root_image.unlink()
        missing = boss.get(_url("outside", _ids(shared_crowd, "outside")["gone"]))
        assert missing.status_code == 404 and "missing" in missing.json()["detail"]


def test_formats_browsers_cannot_show_come_as_png(shared_crowd: Crowd) -> None:
    (tiff,) = write_images(shared_crowd.media / "tiff", 1, fmt="TIFF")
    with shared_crowd.client("boss") as boss:
        boss.post("/projects", json={"name": "tiffs", "kind": "image-class", "options": {"classes": ["a", "b"]}})
        boss.post("/projects/tiffs/tasks", json={"rows": [{"id": "t0", "image": "tiff/img000.tiff"}]})
        answer = boss.get(_url("tiffs", _ids(shared_crowd, "tiffs")["t0"]))
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG") and image_payload(tiff)["format"] == "TIFF"


def test_the_http_store_shows_a_worker_and_an_inspector_their_images(shared_crowd: Crowd, tmp_path: Path) -> None:
    name = "client media ü"  # quoted in the route the payload names
    make_project(shared_crowd, name, members=("ana", "ines"), review_rate=1.0)
    ana = crowdnb.connect(shared_crowd.server.url, shared_crowd.tokens["ana"], outbox=tmp_path / "ana.sqlite")
    ines = crowdnb.connect(shared_crowd.server.url, shared_crowd.tokens["ines"], outbox=tmp_path / "ines.sqlite")
    try:
        project = crowdnb.Project.open(name, store=ana)
        me = ana.worker_id(ana.current_worker())
        (task,) = ana.claim(project.info.id, me, 1)
        assert task.payload["media"] == f"/projects/client%20media%20%C3%BC/tasks/{task.id}/media"
        assert ana.media(project.info.id, task.payload) == (_image(shared_crowd, task.external_id), "image/jpeg")
        assert ana.media(project.info.id, {"text": "no image"}) is None
        ana.submit(project.info.id, me, Submission(uuid.uuid4().hex, task.id, "car", 1200))
        assert ana.flush() == 0
        inspected = crowdnb.Project.open(name, store=ines)
        (review,) = ines.claim_reviews(inspected.info.id, ines.worker_id(ines.current_worker(), role="inspector"), 5)
        assert ines.media(inspected.info.id, review["payload"])[0] == _image(shared_crowd, task.external_id)
    finally:
        ana.close()
        ines.close()


@pytest.mark.postgres
def test_the_visibility_query_is_answered_by_indexes(pg_cluster) -> None:
    """On a store with statistics, each role's check is one lookup by primary key and by the
    (task, worker) indexes of slots and labels, never a scan."""
    store = crowdnb.SqlStore(pg_cluster.new_database())
    try:
        project = crowdnb.Project.create("plans", "text-class", store=store, classes=["a", "b"], overlap=3)
        project.add_tasks(pd.DataFrame({"text": [f"text {i}" for i in range(3000)]}))
        for name in ("w1", "w2", "w3", "w4", "w5"):  # enough labels that a scan costs more than a lookup
            worker = store.worker_id(name)
            claimed = [t for _ in range(4) for t in store.claim(project.info.id, worker, 100)]
            labels = [Submission(uuid.uuid4().hex, task.id, "a", 1000) for task in claimed[:-1]]
            assert not any(isinstance(r, Exception) for r in store.submit_many(project.info.id, worker, labels))
            store.skip(project.info.id, worker, claimed[-1].id)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        statements: list[tuple[str, object]] = []

        def keep(_conn: object, _cursor: object, sql: str, params: object, *_: object) -> None:
            statements.append((sql, params))

        sa.event.listen(store.engine, "before_cursor_execute", keep)
        for role in ("worker", "inspector", "manager"):
            store.visible_payload(project.info.id, claimed[-1].id, Account(worker, name, role))
        sa.event.remove(store.engine, "before_cursor_execute", keep)
        worker_check, inspector_check, manager_check = (c for c in statements if "FROM tasks" in c[0])
        expected = (
            (worker_check, ("pk_tasks", "uq_assignments_task_worker", "ix_annotations_task_worker")),
            (inspector_check, ("pk_tasks", "ix_annotations_task_worker")),
            (manager_check, ("pk_tasks",)),
        )
        with store.engine.connect() as conn:
            for (sql, params), indexes in expected:
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params))
                assert "Seq Scan" not in plan and "hashed" not in plan, plan
                assert all(index in plan for index in indexes), plan
    finally:
        store.close()
